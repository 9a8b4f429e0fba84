"""oda_data.params: notebook parameters are checked with messages that list what is valid."""
from __future__ import annotations

import pytest

import oda_data
from oda_data.params import (
    MoneyBasis,
    ParameterError,
    check_choice,
    check_money_basis,
    check_region,
    check_theme,
    check_year,
    dac_years,
)


def test_parameter_error_is_a_value_error():
    assert issubclass(ParameterError, ValueError)


def test_check_choice_returns_a_valid_value():
    assert check_choice("currency", "JPY", ["USD", "JPY"]) == "JPY"


def test_bad_theme_message_names_parameter_value_and_every_choice():
    with pytest.raises(ParameterError) as info:
        check_theme("pirates")
    message = str(info.value)
    assert message.startswith("parameter 'theme' = 'pirates' is not valid; choose one of: ")
    assert "police_capacity, counter_terrorism, transnational_organized_crime" in message
    for theme in oda_data.THEMES:
        assert theme in message
    assert "did you mean" not in message  # nothing is spelled like "pirates"


def test_near_miss_gets_a_did_you_mean_hint():
    with pytest.raises(ParameterError, match=r"did you mean 'Asia'\?"):
        check_region("asia")
    with pytest.raises(ParameterError, match=r"did you mean 'maritime_security'\?"):
        check_theme("maritime_securty")


def test_every_region_and_theme_is_accepted():
    assert [check_region(r) for r in oda_data.REGIONS] == list(oda_data.REGIONS)
    assert [check_theme(t) for t in oda_data.THEMES] == list(oda_data.THEMES)


def test_bool_is_not_taken_for_an_int_choice():
    with pytest.raises(ParameterError):
        check_choice("n", True, [1, 2])


def test_dac_years_are_those_of_the_shipped_table():
    assert dac_years() == (2000, 2023)


@pytest.mark.parametrize("year", [2000, 2015, 2023, 2022.0])
def test_check_year_accepts_years_of_the_table(year):
    assert check_year("base_year", year) == int(year)
    assert isinstance(check_year("base_year", year), int)


@pytest.mark.parametrize("year", [1999, 2024, 2022.5, True, None])
def test_check_year_refuses_with_the_range(year):
    with pytest.raises(ParameterError) as info:
        check_year("base_year", year)
    assert f"parameter 'base_year' = {year!r} is not valid; choose a year from 2000 to 2023" in str(info.value)


def test_a_year_given_as_text_gets_a_hint():
    with pytest.raises(ParameterError, match=r"pass it as a number, 2020, not a string"):
        check_year("base_year", "2020")


def test_check_year_with_own_bounds():
    assert check_year("year", 2018, 2016, 2018) == 2018
    with pytest.raises(ParameterError, match="choose a year from 2016 to 2018$"):
        check_year("year", 2019, 2016, 2018)


def test_money_basis_and_its_labels():
    basis = check_money_basis("JPY", "constant", 2015)
    assert basis == MoneyBasis("JPY", "constant", 2015)
    assert basis.label == "JPY, constant 2015 prices"
    assert basis.prices_phrase == "constant 2015 prices"
    assert check_money_basis().label == "USD, current prices"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("EUR", "current", 2022), "parameter 'currency' = 'EUR' is not valid; choose one of: USD, JPY"),
        (("USD", "real", 2022), "parameter 'prices' = 'real' is not valid; choose one of: current, constant"),
        (("USD", "constant", 1990), "parameter 'base_year' = 1990 is not valid; choose a year from 2000 to 2023"),
    ],
)
def test_money_basis_refuses_each_bad_parameter(arguments, expected):
    with pytest.raises(ParameterError) as info:
        check_money_basis(*arguments)
    assert str(info.value).startswith(expected)


def test_check_choices_takes_one_a_list_or_none():
    from oda_data.params import check_choices

    assert check_choices("themes", "cyberspace", oda_data.THEMES) == ("cyberspace",)
    assert check_choices("themes", ["outer_space", "cyberspace", "outer_space"], oda_data.THEMES) == (
        "outer_space",
        "cyberspace",
    )
    assert check_choices("themes", None, oda_data.THEMES) == tuple(oda_data.THEMES)
    with pytest.raises(ParameterError, match=r"parameter 'themes' is empty; choose some of: police_capacity"):
        check_choices("themes", [], oda_data.THEMES)
    with pytest.raises(ParameterError, match=r"parameter 'themes' = 'Cyberspace' is not valid.*did you mean 'cyberspace'"):
        check_choices("themes", ["Cyberspace"], oda_data.THEMES)


def test_check_codes():
    from oda_data.params import check_codes

    assert check_codes("donors", 701) == (701,)
    assert check_codes("donors", [701, 4, 701]) == (701, 4)
    for bad in ("Japan", [], [True], [701.5], None):
        with pytest.raises(ParameterError, match=r"parameter 'donors' = .* is not valid; give a non-empty list of whole numbers such as \[701\]"):
            check_codes("donors", bad)
