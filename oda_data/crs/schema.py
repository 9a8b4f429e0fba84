"""The canonical CRS frame: one schema whatever the source layout (its columns are described in the
README's data dictionary). Amounts are USD millions, NA where the source does not carry them."""
from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow

_INT = pa_arrow.int32()
_STR = pa_arrow.string()
_AMOUNT = pa_arrow.float64()

#: Canonical column -> Arrow type, in canonical order.
CANONICAL_TYPES: dict[str, pa_arrow.DataType] = {
    "year": _INT,
    "donor_code": _INT,
    "donor_name": _STR,
    "agency_code": _INT,
    "agency_name": _STR,
    "recipient_code": _INT,
    "recipient_name": _STR,
    "region_name": _STR,
    "flow_code": _INT,
    "finance_type": _INT,
    "purpose_code": _INT,
    "purpose_name": _STR,
    "sector_code": _INT,
    "channel_code": _INT,
    "project_title": _STR,
    "short_description": _STR,
    "long_description": _STR,
    "usd_commitment": _AMOUNT,
    "usd_disbursement": _AMOUNT,
    "usd_commitment_constant": _AMOUNT,
    "usd_disbursement_constant": _AMOUNT,
}

#: The 2018-vintage CRS bulk text header, in order (86 columns), for writers
#: of files in the real layout (fixtures, benchmarks). The shared format notes
#: elide the columns between ``Repaydate2`` and ``RMNCH``; they are the loan
#: terms and arrears columns of the OECD's CRS file description.
BULK_2018_COLUMNS = (
    "Year|DonorCode|DonorName|AgencyCode|AgencyName|CRSid|ProjectNumber|InitialReport|"
    "RecipientCode|RecipientName|RegionCode|RegionName|IncomegroupCode|IncomegroupName|"
    "FlowCode|FlowName|Bi_Multi|Category|Finance_t|Aid_t|USD_Commitment|USD_Disbursement|"
    "USD_Received|USD_Commitment_Defl|USD_Disbursement_Defl|USD_Received_Defl|USD_Adjustment|"
    "USD_Adjustment_Defl|USD_AmountUntied|USD_AmountPartialTied|USD_AmountTied|"
    "USD_AmountUntied_Defl|USD_AmountPartialTied_Defl|USD_Amounttied_Defl|USD_IRTC|"
    "USD_Expert_Commitment|USD_Expert_Extended|USD_Export_Credit|CurrencyCode|"
    "Commitment_National|Disbursement_National|GrantEquiv|USD_GrantEquiv|ShortDescription|"
    "ProjectTitle|PurposeCode|PurposeName|SectorCode|SectorName|ChannelCode|ChannelName|"
    "ChannelReportedName|ParentChannelCode|Geography|ExpectedStartDate|CompletionDate|"
    "LongDescription|Gender|Environment|PDGG|Trade|FTC|PBA|InvestmentProject|AssocFinance|"
    "Biodiversity|ClimateMitigation|ClimateAdaptation|Desertification|CommitmentDate|"
    "TypeRepayment|NumberRepayment|Interest1|Interest2|Repaydate1|Repaydate2|GrantElement|"
    "USD_Interest|USD_Outstanding|USD_Arrears_Principal|USD_Arrears_Interest|"
    "USD_Future_DS_Principal|USD_Future_DS_Interest|RMNCH|BudgetIdent|CapitalExpend"
).split("|")

CANONICAL_COLUMNS: tuple[str, ...] = tuple(CANONICAL_TYPES)

#: Amount columns (USD millions).
AMOUNT_COLUMNS: tuple[str, ...] = tuple(name for name, kind in CANONICAL_TYPES.items() if kind == _AMOUNT)

#: Columns keeping a Data Explorer code as read where the code tables cannot convert it
#: (``donor_code`` etc. are NA there); see :mod:`oda_data.crs.codes`.
RAW_COLUMNS: tuple[str, ...] = ("donor_raw", "recipient_raw", "purpose_raw")

#: The theme columns stored in the cache (see :mod:`oda_data.crs.themes`).
THEME_COLUMNS: tuple[str, ...] = ("theme", "theme_rule")

#: Valid ranges of the integer columns: anything else in a source is an error naming its line.
VALID_RANGES: dict[str, tuple[int, int]] = {
    "year": (1960, 2100),
    "purpose_code": (10000, 99999),
    "sector_code": (100, 999),
}
#: Range of the other codes (donor, agency, recipient, flow, finance type, channel).
CODE_RANGE = (0, 999_999)

#: Text columns searched by the theme keyword rules.
TEXT_COLUMNS: tuple[str, ...] = ("project_title", "short_description", "long_description")

#: Pandera schema of the canonical frame (also accepts ``theme``/``theme_rule``).
CRS_SCHEMA = pa.DataFrameSchema(
    {name: pa.Column(pd.ArrowDtype(kind), nullable=True,
                     checks=pa.Check.in_range(*VALID_RANGES[name]) if name in VALID_RANGES else None)
     for name, kind in CANONICAL_TYPES.items()}, name="canonical CRS frame")

#: The Arrow schema of the cached Parquet files: canonical, raw code and theme columns.
CACHE_ARROW_SCHEMA = pa_arrow.schema(
    [*CANONICAL_TYPES.items(), *((name, _STR) for name in (*RAW_COLUMNS, *THEME_COLUMNS))])
