"""Locate the CRS bulk files in the annotations of the OECD dataflow message.

The download addresses are not fixed: the CRS dataflow's SDMX structure
message lists them, one annotation per file, labelled ``"CRS-Parquet"``,
``"CRS-reduced-parquet"`` or ``"CRS 2018 (dotStat format)"`` (with a
``-vYYYYMMDD`` republish suffix). :func:`parse_bulk_files` maps each label to
its URL; :func:`fetch_bulk_files` fetches the message first.
"""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from ..._text import printable
from .fetch import (
    DEFAULT_BACKOFF_S, DEFAULT_RETRIES, DEFAULT_TIMEOUT, RETRYABLE_STATUS, TRANSIENT_ERRORS,
    DownloadError, RetryableError, new_session, retry_after_of, sleep_backoff,
)

#: The CRS dataflow's structure message; its annotations list the bulk files.
DEFAULT_DATAFLOW_URL = (
    "https://sdmx.oecd.org/public/rest/dataflow/OECD.DCD.FSD/DSD_CRS@DF_CRS/latest"
)
#: Prefix to which a bulk file id is appended when an annotation gives an id.
DEFAULT_BULK_URL = "https://stats.oecd.org/wbos/fileview2.aspx?IDFile="
#: Environment variables overriding the two addresses above.
DATAFLOW_URL_ENV_VAR = "ODA_OECD_DATAFLOW_URL"
BULK_URL_ENV_VAR = "ODA_OECD_BULK_URL"

#: Annotation labels of the bulk files (matched case- and space-insensitively).
FULL_PARQUET_LABEL = "CRS-Parquet"
REDUCED_PARQUET_LABEL = "CRS-reduced-parquet"
YEAR_LABEL_TEMPLATE = "CRS {year} (dotStat format)"

# OECD appends "-vYYYYMMDD" (and "-N" for a same-day republish) to labels.
_LABEL_VERSION_RE = re.compile(r"-v(\d{8}(?:-\d+)?)$")
_YEAR_IN_LABEL_RE = re.compile(r"^crs[\s_-]*(\d{4})\b", re.IGNORECASE)


@dataclass(frozen=True)
class BulkFile:
    """One bulk file listed in the CRS dataflow's annotations.

    Attributes
    ----------
    label : str
        The annotation label without its ``-vYYYYMMDD`` suffix, e.g.
        ``"CRS 2018 (dotStat format)"``.
    url : str
        Where the file is served.
    version : str or None
        The republish token of the label (``"20250310"``), None when absent.
    """

    label: str
    url: str
    version: str | None = None

    @property
    def year(self) -> int | None:
        """The year of a yearly file (``"CRS 2018 ..."`` -> 2018), else None."""
        match = _YEAR_IN_LABEL_RE.match(self.label)
        return int(match.group(1)) if match else None


def _local_name(tag: str) -> str:
    """``{namespace}Name`` -> ``Name`` (SDMX prefixes vary between servers)."""
    return tag.rsplit("}", 1)[-1]


def _normalise_label(label: str) -> str:
    """Key used to compare labels: lower case, single spaces."""
    return " ".join(label.split()).lower()


def _split_version(label: str) -> tuple[str, str | None]:
    """``"CRS-Parquet-v20250310"`` -> ``("CRS-Parquet", "20250310")``."""
    label = " ".join(label.split())
    match = _LABEL_VERSION_RE.search(label)
    if not match:
        return label, None
    return label[: match.start()], match.group(1)


def _target_to_url(target: str, bulk_url: str) -> str | None:
    """An annotation's target -> a URL (an id is appended to ``bulk_url``)."""
    target = target.strip()
    if not target:
        return None
    if re.match(r"^https?://", target, re.IGNORECASE):
        # Spaces occur in real file names ("CRS 2018 data.zip"); keep any
        # %-escape already present rather than double-encoding it.
        parts = urlsplit(target)
        return urlunsplit(parts._replace(path=quote(parts.path, safe="/%")))
    if re.fullmatch(r"[A-Za-z0-9{}._-]+", target):
        return f"{bulk_url}{target}"
    return None


def parse_bulk_files(xml_text: str | bytes, *, bulk_url: str = DEFAULT_BULK_URL) -> dict[str, BulkFile]:
    """Map each bulk-file label of an SDMX dataflow message to its :class:`BulkFile`.

    Tolerant of the shapes the OECD has used: an ``AnnotationText`` (English
    one preferred) reading ``LABEL|URL`` or ``LABEL|FILE-ID``, or an
    ``AnnotationTitle`` (the label) with an ``AnnotationURL`` or a plain
    ``AnnotationText`` (URL or id). Namespace prefixes are ignored.

    Parameters
    ----------
    xml_text : str or bytes
        The structure message.
    bulk_url : str
        Prefix to which a bare file id is appended.

    Returns
    -------
    dict
        Normalised label (lower case) -> :class:`BulkFile`, in document order.

    Raises
    ------
    DownloadError
        When the text is not XML.
    """
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as error:
        raise DownloadError(f"the dataflow message is not valid XML ({error})") from None
    found: dict[str, BulkFile] = {}
    for annotation in root.iter():
        if _local_name(annotation.tag) != "Annotation":
            continue
        title = url_element = None
        texts: list[tuple[str | None, str]] = []
        for child in annotation:
            name = _local_name(child.tag)
            value = (child.text or "").strip()
            if name == "AnnotationTitle":
                title = value
            elif name == "AnnotationURL":
                url_element = value
            elif name == "AnnotationText":
                lang = child.get("{http://www.w3.org/XML/1998/namespace}lang")
                texts.append((lang, value))
        # English first, then language-less, then the rest.
        texts.sort(key=lambda item: {"en": 0, None: 1}.get(item[0], 2))
        candidates: list[tuple[str, str]] = []
        for _, text in texts:
            if "|" in text:
                label, _, target = text.partition("|")
                candidates.append((label, target))
        if title and url_element:
            candidates.append((title, url_element))
        if title and not candidates:
            candidates.extend((title, text) for _, text in texts)
        for raw_label, target in candidates:
            url = _target_to_url(target, bulk_url)
            if not raw_label.strip() or url is None:
                continue
            label, version = _split_version(raw_label.strip())
            found.setdefault(_normalise_label(label), BulkFile(label, url, version))
            break
    return found



def fetch_bulk_files(
    dataflow_url: str | None = None,
    *,
    bulk_url: str | None = None,
    session: requests.Session | None = None,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF_S,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
) -> dict[str, BulkFile]:
    """Fetch the CRS dataflow message and return its bulk files (see :func:`parse_bulk_files`).

    Parameters
    ----------
    dataflow_url, bulk_url : str, optional
        Default to ``$ODA_OECD_DATAFLOW_URL`` / ``$ODA_OECD_BULK_URL``, then
        :data:`DEFAULT_DATAFLOW_URL` / :data:`DEFAULT_BULK_URL`.
    session : requests.Session, optional
    retries, backoff, timeout
        As in :func:`fetch_to_part`.

    Raises
    ------
    DownloadError
        The message could not be fetched or lists no bulk file.
    """
    dataflow_url = dataflow_url or os.environ.get(DATAFLOW_URL_ENV_VAR) or DEFAULT_DATAFLOW_URL
    bulk_url = bulk_url or os.environ.get(BULK_URL_ENV_VAR) or DEFAULT_BULK_URL
    session = session or new_session()
    failures = 0
    while True:
        try:
            response = session.get(dataflow_url, timeout=timeout)
            if response.status_code in RETRYABLE_STATUS:
                raise RetryableError(f"HTTP {response.status_code}", retry_after_of(response))
            break
        except (*TRANSIENT_ERRORS, RetryableError) as error:
            failures += 1
            if failures > retries:
                raise DownloadError(
                    f"could not fetch the CRS dataflow message {printable(dataflow_url)} "
                    f"after {retries} retries: {printable(error)}"
                ) from None
            sleep_backoff(failures, backoff, getattr(error, "retry_after", None))
    if response.status_code >= 400:
        raise DownloadError(
            f"the CRS dataflow message {printable(dataflow_url)} answered HTTP "
            f"{response.status_code} {printable(response.reason)}"
        )
    files = parse_bulk_files(response.content, bulk_url=bulk_url)
    if not files:
        raise DownloadError(
            f"the CRS dataflow message {printable(dataflow_url)} lists no bulk file "
            "(no annotation of the form 'LABEL|URL' was found)"
        )
    return files


def label_for(*, year: int | None = None, full: bool = False, reduced: bool = False) -> str:
    """The annotation label of the requested file (exactly one choice).

    Examples
    --------
    >>> label_for(year=2018)
    'CRS 2018 (dotStat format)'
    >>> label_for(reduced=True)
    'CRS-reduced-parquet'
    """
    chosen = [name for name, on in (("year", year is not None), ("full", full), ("reduced", reduced)) if on]
    if len(chosen) != 1:
        raise ValueError(f"choose exactly one of year, full, reduced (got {chosen or 'none'})")
    if full:
        return FULL_PARQUET_LABEL
    if reduced:
        return REDUCED_PARQUET_LABEL
    return YEAR_LABEL_TEMPLATE.format(year=int(year))


def find_bulk_file(files: dict[str, BulkFile], label: str) -> BulkFile:
    """Look ``label`` up in ``files``; a yearly label falls back to any ``CRS YYYY ...`` file.

    Raises
    ------
    DownloadError
        Naming the label and listing the labels (or years) that exist.
    """
    key = _normalise_label(label)
    if key in files:
        return files[key]
    year_match = _YEAR_IN_LABEL_RE.match(label)
    if year_match:
        year = int(year_match.group(1))
        same_year = [f for f in files.values() if f.year == year]
        if same_year:
            # Prefer the dotStat-format file when several formats exist.
            same_year.sort(key=lambda f: "dotstat" not in f.label.lower())
            return same_year[0]
        years = sorted({f.year for f in files.values() if f.year is not None})
        raise DownloadError(
            f"no CRS bulk file for {year}; years available: "
            f"{', '.join(map(str, years)) or 'none'}"
        )
    raise DownloadError(
        f"no bulk file labelled {label!r}; labels available: "
        f"{', '.join(repr(f.label) for f in files.values())}"
    )

