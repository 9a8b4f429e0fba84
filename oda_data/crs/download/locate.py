"""Locate the CRS bulk files: the CRS dataflow's SDMX structure message lists them, one annotation each
(``"CRS-Parquet"``, ``"CRS-reduced-parquet"``, ``"CRS 2018 (dotStat format)"``, with a ``-vYYYYMMDD`` suffix)."""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from ..._text import one_line
from .fetch import Budget, DownloadError, OutOfTime, get, reason

DEFAULT_DATAFLOW_URL = "https://sdmx.oecd.org/public/rest/dataflow/OECD.DCD.FSD/DSD_CRS@DF_CRS/latest"
DEFAULT_BULK_URL = "https://stats.oecd.org/wbos/fileview2.aspx?IDFile="
DATAFLOW_URL_ENV_VAR = "ODA_OECD_DATAFLOW_URL"
BULK_URL_ENV_VAR = "ODA_OECD_BULK_URL"
_VERSION = re.compile(r"-v(\d{8}(?:-\d+)?)$")  # "-v20250310", "-v20250310-2" (same-day republish)
_YEAR = re.compile(r"^crs[\s_-]*(\d{4})\b", re.IGNORECASE)


@dataclass(frozen=True)
class BulkFile:
    """One bulk file: its label (without ``-vYYYYMMDD``), URL and republish version."""
    label: str
    url: str
    version: str | None = None

    @property
    def year(self) -> int | None:
        match = _YEAR.match(self.label)
        return int(match.group(1)) if match else None


def parse_bulk_files(xml_text: str | bytes, *, bulk_url: str = DEFAULT_BULK_URL) -> dict[str, BulkFile]:
    """Label (lower case) -> :class:`BulkFile`, from texts ``LABEL|URL`` or ``LABEL|FILE-ID`` (English first),
    or an ``AnnotationTitle`` with an ``AnnotationURL`` or a plain text; DownloadError for non-XML."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as error:
        raise DownloadError(f"the dataflow message is not valid XML ({error})") from None
    found: dict[str, BulkFile] = {}
    for annotation in (e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Annotation"):
        parts = {c.tag.rsplit("}", 1)[-1]: (c.text or "").strip() for c in reversed(annotation)}  # first wins
        texts = [(child.text or "").strip() for child in sorted(
            (c for c in annotation if c.tag.endswith("AnnotationText")),
            key=lambda c: {"en": 0, None: 1}.get(c.get("{http://www.w3.org/XML/1998/namespace}lang"), 2))]
        title, link = parts.get("AnnotationTitle"), parts.get("AnnotationURL")
        candidates = [text.split("|", 1) for text in texts if "|" in text] + ([(title, link)] if title and link else [])
        for raw_label, target in candidates or ([(title, text) for text in texts] if title else []):
            target, label = target.strip(), " ".join(raw_label.split())
            if re.match(r"^https?://", target, re.IGNORECASE):  # %-encode spaces, keep existing escapes
                url = urlunsplit(urlsplit(target)._replace(path=quote(urlsplit(target).path, safe="/%")))
            else:
                url = f"{bulk_url}{target}" if re.fullmatch(r"[A-Za-z0-9{}._-]+", target) else None
            if label and url:
                match = _VERSION.search(label)
                bulk = BulkFile(label[: match.start()], url, match.group(1)) if match else BulkFile(label, url)
                found.setdefault(bulk.label.lower(), bulk)
                break
    return found


def fetch_bulk_files(dataflow_url: str | None = None, *, bulk_url: str | None = None,
                     budget: Budget | None = None) -> dict[str, BulkFile]:
    """The bulk files the dataflow message lists (addresses default to the environment variables above)."""
    dataflow_url = dataflow_url or os.environ.get(DATAFLOW_URL_ENV_VAR) or DEFAULT_DATAFLOW_URL
    bulk_url = bulk_url or os.environ.get(BULK_URL_ENV_VAR) or DEFAULT_BULK_URL
    budget = budget or Budget.start()
    where = f"the CRS dataflow message {one_line(dataflow_url)}"
    try:
        response = get(dataflow_url, budget)
    except (requests.RequestException, OutOfTime) as error:
        raise DownloadError(f"could not fetch {where} ({reason(error)})") from None
    if response.status_code >= 400:
        raise DownloadError(one_line(f"{where} answered HTTP {response.status_code} {response.reason or ''}"))
    return parse_bulk_files(response.content, bulk_url=bulk_url)


def label_for(*, year: int | None = None, full: bool = False, reduced: bool = False) -> str:
    """The label of the requested file: exactly one of ``year``, ``full``, ``reduced``."""
    chosen = [name for name, on in (("year", year is not None), ("full", full), ("reduced", reduced)) if on]
    if len(chosen) != 1:
        raise ValueError(f"choose exactly one of year, full, reduced (got {chosen or 'none'})")
    return "CRS-Parquet" if full else "CRS-reduced-parquet" if reduced else f"CRS {int(year)} (dotStat format)"


def find_bulk_file(files: dict[str, BulkFile], label: str) -> BulkFile:
    """Look ``label`` up; a yearly label falls back to any ``CRS YYYY ...`` file (dotStat first)."""
    year = _YEAR.match(label)
    same = [f for f in files.values() if year and f.year == int(year.group(1))]
    found = files.get(" ".join(label.split()).lower()) or min(same, key=lambda f: "dotstat" not in f.label.lower(),
                                                              default=None)
    if found is None and year:
        years = sorted({f.year for f in files.values() if f.year is not None})
        raise DownloadError(f"no CRS bulk file for {year.group(1)}; "
                            f"years available: {', '.join(map(str, years)) or 'none'}")
    if found is None:
        raise DownloadError(f"no bulk file labelled {label!r}; labels available: "
                            f"{', '.join(repr(f.label) for f in files.values())}")
    return found
