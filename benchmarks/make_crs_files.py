"""Generate CRS bulk text files of any size for benchmarks.

The files follow the OECD bulk download text layout (``docs/oecd_formats.md``
of the shared docs): the 86 columns of the 2018 vintage in their order, then
8 of the columns later vintages add (``DRR`` ... ``PSIAddAssess``), 94 in all;
``|``-delimited, UTF-8, a header line, one row per activity, amounts in USD
millions, many empty cells, unquoted as the OECD writes them (``"`` is text).

Rows are resampled from real data and then varied:

* **seed rows** come from ``../shared/data/crs/crs_bilateral_by_purpose_2018_2020_sample.csv``
  (real CRS disbursements by donor, agency, recipient, purpose and year) when
  the shared data sit beside the clone, else from the project's fixtures
  ``tests/fixtures/crs/`` (read with :func:`oda_data.read_crs`);
* donors, agencies, recipients, purposes, flows and finance types are resampled
  together (a real combination per row); years are spread over 2012-2022;
  amounts are the seed's amount times log-normal noise; commitments, deflated
  amounts and empty cells are varied around them;
* titles and descriptions are built from a vocabulary of real-sounding
  sentences (English, some French and Japanese, quotes, the odd ``|`` inside a
  quoted field); long descriptions hold 3 to 10 sentences (about 600
  characters on average, as in the real files), so a 1M-row file is about
  1 GB;
  about 4 % of rows get a security purpose code and a security title (coast
  guard, counter-terrorism, police, narcotics, cyber ...), so that the theme
  queries of the benchmark select a realistic small share of rows.

Usage::

    .venv/bin/python benchmarks/make_crs_files.py --rows 1000000 [--out /tmp/oda_data_benchmarks] [--seed 0] [--force]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from oda_data.crs.schema import BULK_2018_COLUMNS

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_SAMPLE = REPO_ROOT.parent / "shared" / "data" / "crs" / "crs_bilateral_by_purpose_2018_2020_sample.csv"
FIXTURE_DIR = REPO_ROOT / "tests" / "fixtures" / "crs"
DEFAULT_OUT = Path(tempfile.gettempdir()) / "oda_data_benchmarks"  # big files: never in the repository
CHUNK_ROWS = 200_000

#: The 2018-vintage CRS bulk text header, in order (all 86 columns).
CRS_2018_COLUMNS = BULK_2018_COLUMNS
#: Columns later vintages add after the 2018 ones (policy markers, SDG focus, PSI).
LATER_COLUMNS = ["DRR", "Nutrition", "Disability", "DIG", "SDGfocus", "PSIflag", "PSIAddType", "PSIAddAssess"]
#: The header of the generated files: 94 columns.
CRS_BULK_COLUMNS = [*CRS_2018_COLUMNS, *LATER_COLUMNS]

_SEED_COLUMNS = (
    "year", "donor_code", "donor_name", "agency_code", "agency_name", "recipient_code",
    "recipient_name", "flow_code", "finance_type", "purpose_code", "purpose_name",
    "sector_code", "value",
)

# (purpose code, purpose name, titles): security rows. Most titles match a
# theme keyword of oda_data/data/crs_theme_rules.yaml, a few do not (a ferry
# under water transport), as in real data.
_SECURITY = (
    (21040, "Water transport", (
        "Coast Guard capacity building", "Provision of patrol vessels to the coast guard",
        "Project for the improvement of maritime security", "Ferry terminal rehabilitation",
        "Renforcement des garde-côtes", "海上保安能力強化プロジェクト (coast guard)",
    )),
    (15210, "Security system management and reform", (
        "Police capacity building", "Community policing training", "Security sector reform",
        "Counter-terrorism capacity building for law enforcement",
    )),
    (15220, "Civilian peace-building, conflict prevention and resolution", (
        "Prevention of violent extremism", "Peace-building dialogue", "Countering terrorism in the Sahel",
    )),
    (16063, "Narcotics control", (
        "Narcotics control", "UNODC container control programme", "Drug control in the Golden Triangle",
    )),
    (15130, "Legal and judicial development", (
        "Criminal justice and police reform", "Strengthening courts", "Fight against organized crime",
    )),
    (22040, "Information and communication technology (ICT)", (
        "Cybersecurity capacity building", "ICT for rural schools", "Cybercrime investigation training",
    )),
    (15113, "Anti-corruption organisations and institutions", (
        "Anti-money laundering and terrorist financing", "Financial intelligence unit support",
    )),
    (15190, "Facilitation of orderly, safe, regular and responsible migration and mobility", (
        "Combating trafficking in persons", "Safe migration services",
    )),
)
_SECURITY_SHARE = 0.04

_TITLE_TEMPLATES = (
    "Project for {purpose}", "{purpose} programme", "Support to {purpose}", "{purpose} - phase {phase}",
    "Technical cooperation: {purpose}", "Appui au secteur: {purpose}", "{purpose} (JICA volunteers)",
)
_SENTENCES = (
    "The project aims to improve access to basic services for the poorest households.",
    "Activities include training of trainers, equipment and technical assistance.",
    "Implemented through the ministry in charge, with NGOs as partners.",
    "The programme builds the capacity of local governments to plan and budget.",
    'Evaluation of the "Kaizen" approach in the pilot districts.',
    "Le projet vise à renforcer les capacités des institutions nationales.",
    "Includes a grant component and a concessional loan component.",
    "Results: 12 facilities rehabilitated | 3,400 staff trained.",
    "Co-financed with the World Bank and the Asian Development Bank.",
    "技術協力プロジェクト。専門家派遣と研修員受入を含む。",
    "Gender equality is a significant objective of the activity.",
    "Monitoring is done with the recipient's statistics office.",
    "The expected outcome is a sustainable increase in the coverage of water supply and sanitation services "
    "in peri-urban areas, with particular attention to women-headed households.",
    "Component 1 finances civil works; component 2 finances consulting services for detailed design, "
    "procurement assistance and construction supervision.",
    "La coopération porte sur la formation des agents, l'équipement des directions régionales et "
    "l'appui à la mise en œuvre de la stratégie nationale.",
    "The activity contributes to SDG targets 4.1 and 4.5 through school construction and teacher training.",
    "Budget support is disbursed in tranches against performance indicators agreed with the Ministry of Finance.",
    "本事業は、対象地域における保健医療サービスの質の向上を目的とし、施設整備と人材育成を行う。",
    "Emergency assistance: provision of food, shelter and non-food items to displaced persons in the region.",
    "An independent mid-term review will be carried out in year three; findings will inform the second phase.",
    "Supports the national statistical office to conduct the census and strengthen administrative data systems.",
)
_CHANNELS = ((11000, "Donor Government"), (12000, "Recipient Government"), (21000, "International NGO"),
             (41116, "United Nations Office on Drugs and Crime"), (44001, "International Bank for Reconstruction and Development"))
_FLOW_NAMES = {11: "ODA Grants", 13: "ODA Loans", 19: "Equity Investment"}


def _flow_names(flow: pa.Array) -> pa.Array:
    """Flow names for flow codes of any size (the fixtures use codes above 99 too)."""
    largest = max(int(pc.max(flow).as_py() or 0), max(_FLOW_NAMES)) + 1
    names = pa.array([_FLOW_NAMES.get(code, "Other Official Flows") for code in range(largest)])
    return pc.take(names, flow)


def _read_shared_sample(path: Path) -> pa.Table:
    """The real sample: drop its trailing empty ``,,,`` lines, keep the seed columns."""
    table = pacsv.read_csv(path)
    table = table.filter(pc.is_valid(table["donor_code"]))
    return pa.table({
        "year": table["year"], "donor_code": table["donor_code"], "donor_name": table["donor_name"],
        "agency_code": table["agency_code"], "agency_name": table["agency_name"],
        "recipient_code": table["recipient_code"], "recipient_name": table["recipient_name"],
        "flow_code": table["flow_code"], "finance_type": table["finance_t"],
        "purpose_code": table["purpose_code"], "purpose_name": table["purpose_name"],
        "sector_code": table["sector_code"], "value": table["value"],
    })


def _read_fixtures(folder: Path) -> pa.Table:
    """Fallback seed: the project's CRS fixtures through read_crs (canonical columns)."""
    import oda_data

    frames = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in (".txt", ".csv", ".zip", ".parquet"):
            try:
                frames.append(oda_data.read_crs(path))
            except Exception:  # a fixture of a broken file (tests of errors): skip it
                continue
    if not frames:
        raise FileNotFoundError(f"no readable CRS fixture in {folder}")
    import pandas as pd

    df = pd.concat(frames, ignore_index=True)
    df["value"] = df["usd_disbursement"].fillna(df["usd_commitment"])
    df = df.dropna(subset=["donor_code", "recipient_code", "purpose_code", "value"])
    return pa.Table.from_pandas(df[list(_SEED_COLUMNS)], preserve_index=False)


def load_seed_rows() -> tuple[pa.Table, str]:
    """Return the rows to resample and a sentence naming where they come from."""
    if SHARED_SAMPLE.is_file():
        return _read_shared_sample(SHARED_SAMPLE), f"real CRS sample {SHARED_SAMPLE.relative_to(REPO_ROOT.parent)}"
    if FIXTURE_DIR.is_dir():
        return _read_fixtures(FIXTURE_DIR), f"project fixtures {FIXTURE_DIR.relative_to(REPO_ROOT)}"
    raise FileNotFoundError(
        f"no seed rows: neither {SHARED_SAMPLE} nor {FIXTURE_DIR} exists"
    )


def _take(values, index: np.ndarray, kind=None) -> pa.Array:
    return pc.take(pa.array(values, kind), pa.array(index))


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _blank_some(array: pa.Array, rng: np.random.Generator, share: float) -> pa.Array:
    """Set about ``share`` of the cells to null (written as empty cells)."""
    mask = pa.array(rng.random(len(array)) < share)
    return pc.if_else(mask, pa.scalar(None, array.type), array)


def _region(recipient: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """A coarse DAC region from the recipient code ranges (good enough for a benchmark)."""
    bounds = [(100, 298, 10001, "Africa"), (298, 500, 10004, "America"), (500, 600, 10009, "Middle East"),
              (600, 700, 10011, "South & Central Asia"), (700, 800, 10008, "Far East Asia"),
              (800, 900, 10007, "Oceania"), (0, 100, 10003, "Europe")]
    codes = np.full(len(recipient), 10010, dtype=np.int64)  # "Developing countries, unspecified"
    names = np.full(len(recipient), 10, dtype=np.int64)
    labels = [label for *_, label in bounds] + ["Developing countries, unspecified"]
    for position, (low, high, code, _) in enumerate(bounds):
        inside = (recipient >= low) & (recipient < high)
        codes[inside] = code
        names[inside] = position
    names[codes == 10010] = len(labels) - 1
    return codes, _take(labels, names)


def make_chunk(seeds: pa.Table, rows: int, first_serial: int, rng: np.random.Generator) -> pa.Table:
    """``rows`` rows in the bulk layout (as an Arrow table of the 94 columns)."""
    pick = rng.integers(0, seeds.num_rows, rows)
    column = {name: pc.take(seeds[name], pa.array(pick)).combine_chunks() for name in _SEED_COLUMNS}
    year = pc.add(pc.cast(column["year"], pa.int64()), pa.array(rng.integers(-6, 3, rows)))
    purpose = pc.cast(column["purpose_code"], pa.int64())
    purpose_name = pc.cast(column["purpose_name"], pa.string())

    # A few security rows: their purpose code, name and a security title.
    security = rng.random(rows) < _SECURITY_SHARE
    which = rng.integers(0, len(_SECURITY), rows)
    sec_codes = np.array([code for code, _, _ in _SECURITY])[which]
    sec_names = [name for _, name, _ in _SECURITY]
    purpose = pc.if_else(pa.array(security), pa.array(sec_codes), purpose)
    purpose_name = pc.if_else(pa.array(security), _take(sec_names, which), purpose_name)
    all_titles = [title for _, _, titles in _SECURITY for title in titles]
    offsets = np.cumsum([0] + [len(titles) for _, _, titles in _SECURITY])
    sec_title_index = offsets[which] + (rng.integers(0, 1 << 30, rows) % np.diff(offsets)[which])

    phase = pc.cast(pa.array(rng.integers(1, 5, rows)), pa.string())
    template = rng.integers(0, len(_TITLE_TEMPLATES), rows)
    plain_title = pa.array([
        _TITLE_TEMPLATES[t].format(purpose=p, phase=ph)
        for t, p, ph in zip(template.tolist(), purpose_name.to_pylist(), phase.to_pylist())
    ], pa.string())
    title = pc.if_else(pa.array(security), _take(all_titles, sec_title_index), plain_title)
    recipient_name = pc.cast(column["recipient_name"], pa.string())
    short = _join(title, pa.scalar(" - "), recipient_name)
    # 3 to 10 sentences after the title: a sentence slot left empty is skipped.
    count = rng.integers(3, 11, rows)
    sentences = [pc.if_else(pa.array(count > slot), _take(_SENTENCES, rng.integers(0, len(_SENTENCES), rows)),
                            pa.scalar(None, pa.string())) for slot in range(10)]
    long = pc.binary_join_element_wise(title, *sentences, " ", null_handling="skip")

    value = pc.cast(column["value"], pa.float64()).to_numpy(zero_copy_only=False)
    disbursement = np.round(np.abs(value) * rng.lognormal(0.0, 0.6, rows) + 0.0005, 6)
    commitment = np.round(disbursement * rng.uniform(0.8, 1.6, rows), 6)
    deflator = rng.uniform(1.0, 1.15, rows)
    recipient = pc.cast(column["recipient_code"], pa.int64()).to_numpy(zero_copy_only=False)
    region_code, region_name = _region(recipient)
    flow = pc.cast(column["flow_code"], pa.int64())
    channel = rng.integers(0, len(_CHANNELS), rows)
    serial = np.arange(first_serial, first_serial + rows)
    start_year = pc.cast(year, pa.string())
    grant = pc.equal(pc.cast(column["finance_type"], pa.int64()), 110)

    data = {
        "Year": year,
        "DonorCode": column["donor_code"], "DonorName": column["donor_name"],
        "AgencyCode": column["agency_code"], "AgencyName": column["agency_name"],
        "CRSid": _join(start_year, pc.cast(pa.array(serial % 1_000_000 + 1_000_000), pa.string())),
        "ProjectNumber": _join(pa.scalar("P-"), pc.cast(pa.array(serial), pa.string())),
        "InitialReport": pa.array(rng.integers(1, 6, rows)),
        "RecipientCode": column["recipient_code"], "RecipientName": recipient_name,
        "RegionCode": pa.array(region_code), "RegionName": region_name,
        "FlowCode": flow,
        "FlowName": _flow_names(flow),
        "Bi_Multi": pa.array(np.where(rng.random(rows) < 0.9, 1, 3)),
        "Category": pa.array(np.full(rows, 10)),
        "Finance_t": column["finance_type"],
        "Aid_t": _take(["C01", "B03", "D02", "A02"], rng.integers(0, 4, rows)),
        "USD_Commitment": _blank_some(pa.array(commitment), rng, 0.15),
        "USD_Disbursement": _blank_some(pa.array(disbursement), rng, 0.05),
        "USD_Commitment_Defl": _blank_some(pa.array(np.round(commitment * deflator, 6)), rng, 0.15),
        "USD_Disbursement_Defl": _blank_some(pa.array(np.round(disbursement * deflator, 6)), rng, 0.05),
        "USD_AmountUntied": _blank_some(pa.array(commitment), rng, 0.7),
        "USD_GrantEquiv": _blank_some(pa.array(np.round(disbursement * 0.9, 6)), rng, 0.5),
        "CurrencyCode": pa.array(np.full(rows, 302)),
        "ShortDescription": _blank_some(short, rng, 0.1),
        "ProjectTitle": _blank_some(title, rng, 0.02),
        "PurposeCode": purpose, "PurposeName": purpose_name,
        "SectorCode": pc.cast(pc.divide(purpose, 100), pa.int64()),
        "ChannelCode": _take([c for c, _ in _CHANNELS], channel),
        "ChannelName": _take([n for _, n in _CHANNELS], channel),
        "ExpectedStartDate": _blank_some(_join(start_year, pa.scalar("-04-01")), rng, 0.5),
        "LongDescription": _blank_some(long, rng, 0.25),
        "Gender": _blank_some(pa.array(rng.integers(0, 3, rows)), rng, 0.3),
        "Environment": _blank_some(pa.array(rng.integers(0, 3, rows)), rng, 0.3),
        "Biodiversity": _blank_some(pa.array(rng.integers(0, 3, rows)), rng, 0.5),
        "ClimateMitigation": _blank_some(pa.array(rng.integers(0, 3, rows)), rng, 0.4),
        "ClimateAdaptation": _blank_some(pa.array(rng.integers(0, 3, rows)), rng, 0.4),
        "CommitmentDate": _blank_some(_join(start_year, pa.scalar("-03-31")), rng, 0.3),
        "GrantElement": pc.if_else(grant, pa.scalar(100.0), pa.scalar(None, pa.float64())),
        "USD_Received": _blank_some(pa.array(np.round(disbursement * 0.05, 6)), rng, 0.9),
        "USD_Adjustment": _blank_some(pa.array(np.round(disbursement * 0.01, 6)), rng, 0.95),
        "Commitment_National": _blank_some(pa.array(np.round(commitment * 110.4, 3)), rng, 0.2),
        "Disbursement_National": _blank_some(pa.array(np.round(disbursement * 110.4, 3)), rng, 0.1),
        "GrantEquiv": _blank_some(pa.array(np.round(disbursement * 99.3, 3)), rng, 0.5),
        "SectorName": _join(pc.cast(pc.divide(purpose, 100), pa.string()), pa.scalar(": "), purpose_name),
        "ChannelReportedName": _blank_some(_take([n for _, n in _CHANNELS], channel), rng, 0.4),
        "ParentChannelCode": _take([c // 1000 * 1000 for c, _ in _CHANNELS], channel),
        "Geography": _blank_some(recipient_name, rng, 0.7),
        "CompletionDate": _blank_some(_join(pc.cast(pc.add(year, 3), pa.string()), pa.scalar("-03-31")), rng, 0.5),
        "IncomegroupCode": pa.array(np.full(rows, 10016)), "IncomegroupName": _take(["LMICs"], np.zeros(rows, int)),
        "PDGG": _blank_some(pa.array(rng.integers(0, 3, rows)), rng, 0.3),
        "Trade": _blank_some(pa.array(rng.integers(0, 2, rows)), rng, 0.6),
        "DRR": _blank_some(pa.array(rng.integers(0, 3, rows)), rng, 0.4),
        "Nutrition": _blank_some(pa.array(rng.integers(0, 3, rows)), rng, 0.4),
        "Disability": _blank_some(pa.array(rng.integers(0, 3, rows)), rng, 0.4),
        "DIG": _blank_some(pa.array(rng.integers(0, 3, rows)), rng, 0.5),
        "SDGfocus": _blank_some(_take(["16.4", "16.a;16.4", "4.1;5.1", "6.1", "3.8;3.c", "1.2"],
                                      rng.integers(0, 6, rows)), rng, 0.5),
    }
    arrays = [data.get(name, pa.nulls(rows, pa.string())) for name in CRS_BULK_COLUMNS]
    return pa.Table.from_arrays(arrays, names=CRS_BULK_COLUMNS)


def _cell_text(array: pa.Array) -> pa.Array:
    """Render a column as the OECD writes its cells: unquoted, empty for null, ``"`` kept as text.

    A ``|`` or a line break inside a text would break the OECD's own layout
    (the reader refuses such a line): they become ``/`` and a space.
    """
    text = array if pa.types.is_string(array.type) else pc.cast(array, pa.string())
    text = pc.fill_null(text, "")
    text = pc.replace_substring_regex(pc.replace_substring(text, "|", "/"), r"[\r\n]+", " ")
    return text


def chunk_lines(table: pa.Table) -> bytes:
    """The table as ``|``-delimited UTF-8 lines (minimal quoting, like the OECD files)."""
    cells = [_cell_text(column.combine_chunks()) for column in table.columns]
    lines = pc.binary_join_element_wise(*cells, "|")
    return ("\n".join(lines.to_pylist()) + "\n").encode("utf-8")


def make_crs_file(path, rows: int, *, seed: int = 0, chunk_rows: int = CHUNK_ROWS) -> Path:
    """Write a ``rows``-row CRS bulk text file at ``path`` (atomically) and return it."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1 (got {rows})")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    seeds, _ = load_seed_rows()
    rng = np.random.default_rng(seed)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # pyarrow's CSV writer quotes every string; the OECD files quote only
        # where needed, so the lines are rendered here.
        with open(temporary, "wb") as sink:
            sink.write(("|".join(CRS_BULK_COLUMNS) + "\n").encode("utf-8"))
            written = 0
            while written < rows:
                count = min(chunk_rows, rows - written)
                sink.write(chunk_lines(make_chunk(seeds, count, written, rng)))
                written += count
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def default_path(rows: int, out: Path = DEFAULT_OUT) -> Path:
    """``<out>/crs_<rows>.txt``."""
    return Path(out) / f"crs_{rows}.txt"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="rewrite files that exist")
    args = parser.parse_args(argv)
    _, origin = load_seed_rows()
    print(f"seed rows: {origin}")
    for rows in args.rows:
        path = default_path(rows, args.out)
        if path.exists() and not args.force:
            print(f"{path}: exists ({path.stat().st_size / 1e6:,.0f} MB), kept (--force to rewrite)")
            continue
        started = time.perf_counter()
        make_crs_file(path, rows, seed=args.seed)
        print(f"{path}: {rows:,} rows, {path.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
