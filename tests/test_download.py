"""Tests of oda_data.crs.download against a local HTTP server (never the internet)."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import signal
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from oda_data import cli
from oda_data.crs import cache as crs_cache
from oda_data.crs import download as dl

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "download"

# A few columns of the 2018-vintage CRS layout, enough for a realistic member.
_HEADER = "Year|DonorCode|DonorName|CRSid|RecipientCode|USD_Commitment|USD_Disbursement|ProjectTitle|PurposeCode"


def _crs_text(rows: int) -> bytes:
    lines = [_HEADER]
    for i in range(rows):
        lines.append(
            f"2018|701|Japan|2018{i:06d}|{238 + i % 7}|{i * 0.125:.3f}|{i * 0.1:.3f}|"
            f"Coast guard capacity building phase {i}|{15210 if i % 3 else 33110}"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def _zip_bytes(member: str, payload: bytes) -> bytes:
    buffer = io.BytesIO()
    # Stored (not deflated) so the size is predictable and the drop-mid-file
    # tests really cut through member data.
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(member, payload)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def crs_zip() -> bytes:
    return _zip_bytes("CRS 2018 data.txt", _crs_text(600))


@pytest.fixture(scope="module")
def crs_parquet() -> bytes:
    table = pa.table({"Year": [2018, 2019], "DonorCode": [701, 302], "USD_Disbursement": [1.5, 2.25]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _corrupt_crc(zip_bytes: bytes) -> bytes:
    """Flip one byte of member data: the archive opens but the CRC check fails."""
    data = bytearray(zip_bytes)
    data[200] ^= 0xFF
    return bytes(data)


# ---------------------------------------------------------------- the server


@dataclass
class Route:
    """How the test server answers one path (every answer bounded: the server stops by itself)."""

    body: bytes = b""
    status: int = 200
    reason: str | None = None  # status line text of an error answer
    ranges: bool = True  # honours Range (with If-Range against its ETag)
    fail_first: int = 0  # answer the first N requests with 500
    drop: str = "never"  # never | once | always: announce the length, send half, hang up
    gzip: bool = False  # Content-Encoding: gzip whatever the client accepts
    length_delta: int = 0  # announce Content-Length + delta
    trickle: float = 0.0  # seconds between 256-byte writes
    stall: float = 0.0  # seconds of silence before the status line
    retry_after: int | None = None  # the failures are 503s with this Retry-After
    raw_gzip_body: bytes | None = None  # sent as is under Content-Encoding: gzip (a corrupt stream)
    requests: list = field(default_factory=list)  # headers of every request received


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):  # noqa: N802 -- http.server's naming
        route: Route | None = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        route.requests.append(dict(self.headers))
        attempt = len(route.requests)
        time.sleep(route.stall)
        if attempt <= route.fail_first and route.retry_after is not None:
            self.send_response(503)
            self.send_header("Retry-After", str(route.retry_after))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if attempt <= route.fail_first:
            self.send_error(500, "Internal Server Error")
            return
        if route.status != 200:
            self.send_error(route.status, route.reason)
            return
        body = route.body
        etag = '"' + hashlib.md5(body).hexdigest() + '"'
        wants = self.headers.get("Range", "")
        if route.ranges and wants.startswith("bytes=") and self.headers.get("If-Range") in (None, etag):
            start = int(wants[len("bytes="):].split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            chunk = body[start:]
        else:
            self.send_response(200)
            chunk = body
        if route.gzip:
            chunk = gzip.compress(chunk) if route.raw_gzip_body is None else route.raw_gzip_body
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(chunk) + route.length_delta))
        self.send_header("ETag", etag)
        self.end_headers()
        if route.drop == "always" or (route.drop == "once" and attempt == route.fail_first + 1):
            chunk = chunk[: len(chunk) // 2]
            self.close_connection = True
        if route.length_delta > 0:
            self.close_connection = True
        try:
            step = 256 if route.trickle else len(chunk) or 1
            for start in range(0, len(chunk), step):
                self.wfile.write(chunk[start:start + step])
                self.wfile.flush()
                time.sleep(route.trickle)
        except OSError:  # the client hung up
            self.close_connection = True


class LocalServer:
    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.routes = {}
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def add(self, path: str, route: Route) -> str:
        self.httpd.routes[path] = route
        return self.base + path

    def dataflow(self, entries: dict[str, str], path: str = "/dataflow") -> str:
        """Serve an SDMX dataflow message whose annotations map label -> target."""
        annotations = "".join(
            "<common:Annotation><common:AnnotationType>EXT_RESOURCE</common:AnnotationType>"
            f'<common:AnnotationText xml:lang="en">{label}|{target}</common:AnnotationText>'
            "</common:Annotation>"
            for label, target in entries.items()
        )
        xml = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<message:Structure xmlns:message="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message" '
            'xmlns:structure="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure" '
            'xmlns:common="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common">'
            "<message:Structures><structure:Dataflows>"
            '<structure:Dataflow id="DSD_CRS@DF_CRS" agencyID="OECD.DCD.FSD" version="1.6">'
            f"<common:Annotations>{annotations}</common:Annotations>"
            "</structure:Dataflow></structure:Dataflows></message:Structures></message:Structure>"
        )
        return self.add(path, Route(body=xml.encode("utf-8")))

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = LocalServer()
    yield srv
    srv.close()


@pytest.fixture
def ingested(monkeypatch):
    """Replace cache.ingest by a recorder (the real one is tested in test_crs_*)."""
    calls = []

    def fake_ingest(path, *, progress=True):
        calls.append(Path(path))
        return Path(path).with_suffix(".cached.parquet")

    monkeypatch.setattr(crs_cache, "ingest", fake_ingest)
    return calls


def _fast(**overrides):
    """download_crs options for tests: tiny chunks, no backoff, no bars."""
    options = {"retries": 3, "backoff": 0.0, "max_time": 60, "chunk_size": 2048, "progress": False}
    options.update(overrides)
    return options


# ---------------------------------------------------------------- locate


def test_parse_bulk_files_reads_every_documented_annotation_shape():
    xml = (FIXTURES / "crs_dataflow.xml").read_bytes()
    files = dl.parse_bulk_files(xml, bulk_url="https://mirror.example/get?id=")
    assert list(files) == [
        "crs-parquet",
        "crs-reduced-parquet",
        "crs 2019 (dotstat format)",
        "crs 2018 (dotstat format)",
        "crs 2017 (dotstat format)",
    ]
    full = files["crs-parquet"]
    # The English text wins over the French one; the -vYYYYMMDD suffix is split off.
    assert (full.label, full.url, full.version) == (
        "CRS-Parquet",
        "https://webfs.example.oecd.org/crs/CRS.parquet",
        "20250310",
    )
    # A bare file id is appended to the bulk URL prefix.
    assert files["crs-reduced-parquet"].url == (
        "https://mirror.example/get?id=9a5b6c3d-1e2f-4a5b-8c7d-0e1f2a3b4c5d"
    )
    # Same-day republish suffix, and a space in the file name is %-encoded.
    y2019 = files["crs 2019 (dotstat format)"]
    assert y2019.version == "20250310-2"
    assert y2019.url == "https://webfs.example.oecd.org/crs/CRS%202019%20data.zip"
    assert y2019.year == 2019
    # AnnotationTitle + AnnotationURL, and AnnotationTitle + a plain id text.
    assert files["crs 2018 (dotstat format)"].url.endswith("IDFile=1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5e")
    assert files["crs 2017 (dotstat format)"].url == (
        "https://mirror.example/get?id=7c8d9e0f-1a2b-4c3d-9e4f-5a6b7c8d9e0f"
    )


def test_parse_bulk_files_rejects_a_non_xml_answer():
    with pytest.raises(dl.DownloadError, match="not valid XML"):
        dl.parse_bulk_files(b"<html><body>Access denied")


def test_find_bulk_file_lists_the_years_that_exist():
    files = dl.parse_bulk_files((FIXTURES / "crs_dataflow.xml").read_bytes())
    assert dl.find_bulk_file(files, dl.label_for(year=2018)).label == "CRS 2018 (dotStat format)"
    with pytest.raises(dl.DownloadError, match=r"no CRS bulk file for 2031; years available: 2017, 2018, 2019"):
        dl.find_bulk_file(files, dl.label_for(year=2031))
    with pytest.raises(dl.DownloadError, match="labels available: 'CRS-Parquet'"):
        dl.find_bulk_file(files, "CRS-Everything")


def test_label_for_demands_exactly_one_choice():
    assert dl.label_for(full=True) == "CRS-Parquet"
    with pytest.raises(ValueError, match="exactly one"):
        dl.label_for(year=2018, full=True)
    with pytest.raises(ValueError, match="exactly one"):
        dl.label_for()


# ---------------------------------------------------------------- download


def test_cli_downloads_verifies_records_sha256_and_ingests(server, crs_zip, ingested, tmp_path, capsys):
    server.add("/files/crs2018.zip", Route(body=crs_zip))
    dataflow = server.dataflow({"CRS 2018 (dotStat format)-v20250310": "crs2018.zip"})

    code = cli.main([
        "download", "crs", "--year", "2018", "--dest", str(tmp_path), "--quiet",
        "--dataflow-url", dataflow, "--base-url", server.base + "/files/",
    ])

    assert code == 0
    final = tmp_path / "crs-2018-dotstat-format.zip"
    assert final.read_bytes() == crs_zip
    digest = hashlib.sha256(crs_zip).hexdigest()
    assert (tmp_path / "crs-2018-dotstat-format.zip.sha256").read_text() == f"{digest}  {final.name}\n"
    provenance = json.loads((tmp_path / "crs-2018-dotstat-format.zip.json").read_text())
    assert provenance["url"] == server.base + "/files/crs2018.zip"
    assert (provenance["version"], provenance["size"], provenance["content_encoding"]) == ("20250310", len(crs_zip), None)
    assert _names(tmp_path) == [
        "crs-2018-dotstat-format.zip",
        "crs-2018-dotstat-format.zip.json",
        "crs-2018-dotstat-format.zip.sha256",
    ]
    assert ingested == [final]
    out = capsys.readouterr().out
    assert "downloaded and verified" in out and digest in out and "ingested into the cache" in out


def _names(folder: Path) -> list[str]:
    """The folder's files, without the download lock."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


def test_an_up_to_date_copy_is_reused_and_force_downloads_again(server, crs_zip, ingested, tmp_path):
    route = Route(body=crs_zip)
    server.add("/files/crs2018.zip", route)
    dataflow = server.dataflow({"CRS 2018 (dotStat format)-v20250310": server.base + "/files/crs2018.zip"})
    options = _fast(dataflow_url=dataflow, dest=tmp_path)

    first = dl.download_crs(year=2018, **options)
    second = dl.download_crs(year=2018, **options)
    assert (first.reused, second.reused) == (False, True)
    assert len(route.requests) == 1
    assert second.sha256 == hashlib.sha256(crs_zip).hexdigest()
    dl.download_crs(year=2018, force=True, **options)
    assert len(route.requests) == 2
    assert ingested == [first.path] * 3


def test_a_copy_whose_sha256_no_longer_matches_is_fetched_again(server, crs_zip, ingested, tmp_path):
    route = Route(body=crs_zip)
    server.add("/files/crs2018.zip", route)
    dataflow = server.dataflow({"CRS 2018 (dotStat format)-v20250310": server.base + "/files/crs2018.zip"})
    first = dl.download_crs(year=2018, dataflow_url=dataflow, dest=tmp_path, **_fast())
    first.path.write_bytes(_corrupt_crc(crs_zip))  # same size, one byte changed
    again = dl.download_crs(year=2018, dataflow_url=dataflow, dest=tmp_path, **_fast())
    assert again.reused is False and len(route.requests) == 2
    assert again.path.read_bytes() == crs_zip


def test_full_parquet_download_checks_the_footer(server, crs_parquet, ingested, tmp_path):
    server.add("/CRS.parquet", Route(body=crs_parquet))
    dataflow = server.dataflow({"CRS-Parquet-v20250310": server.base + "/CRS.parquet"})
    result = dl.download_crs(full=True, dataflow_url=dataflow, dest=tmp_path, **_fast())
    assert result.path == tmp_path / "crs-parquet.parquet"
    assert pq.read_table(result.path).column("DonorCode").to_pylist() == [701, 302]


def test_resume_after_the_server_drops_the_connection(server, crs_zip, ingested, tmp_path):
    route = Route(body=crs_zip, drop="once")
    url = server.add("/files/crs2018.zip", route)
    result = dl.download_crs(url=url, dest=tmp_path, **_fast())

    assert result.path.read_bytes() == crs_zip
    assert len(route.requests) == 2
    # The second request asked only for the missing tail (from what was written
    # before the drop: whole chunks of the first half), validated by ETag.
    assert route.requests[0].get("Range") is None
    start = int(route.requests[1]["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < start <= len(crs_zip) // 2
    assert route.requests[1]["If-Range"].startswith('"')
    assert _names(tmp_path) == ["crs2018.zip", "crs2018.zip.json", "crs2018.zip.sha256"]


def test_a_part_left_by_an_earlier_run_is_resumed(server, crs_zip, ingested, tmp_path):
    route = Route(body=crs_zip)
    url = server.add("/files/crs2018.zip", route)
    # An earlier run stopped after 1000 bytes; its sidecar kept the server's ETag.
    etag = '"' + hashlib.md5(crs_zip).hexdigest() + '"'
    (tmp_path / "crs2018.part").write_bytes(crs_zip[:1000])
    (tmp_path / "crs2018.part.json").write_text(json.dumps({"url": url, "etag": etag}))

    result = dl.download_crs(url=url, dest=tmp_path, **_fast())

    assert result.path.read_bytes() == crs_zip
    assert [(r.get("Range"), r.get("If-Range")) for r in route.requests] == [("bytes=1000-", etag)]


@pytest.mark.parametrize("validator", [None, '"an-older-etag"'])
def test_a_part_that_cannot_be_checked_or_is_of_another_version_is_downloaded_afresh(
        server, crs_zip, ingested, tmp_path, validator):
    route = Route(body=crs_zip)
    url = server.add("/files/crs2018.zip", route)
    # An earlier run fetched the start of an older version: without a validator, or with the old
    # ETag (the server answers the whole new file), resumed bytes would not belong together.
    older = _zip_bytes("CRS 2018 data.txt", _crs_text(600).replace(b"Coast", b"Const"))
    (tmp_path / "crs2018.part").write_bytes(older[:20000])
    (tmp_path / "crs2018.part.json").write_text(json.dumps({"url": url, "etag": validator}))

    result = dl.download_crs(url=url, dest=tmp_path, **_fast())

    assert [r.get("Range") for r in route.requests] == [None if validator is None else "bytes=20000-"]
    assert result.path.read_bytes() == crs_zip


def test_a_server_without_range_support_restarts_cleanly(server, crs_zip, ingested, tmp_path):
    route = Route(body=crs_zip, ranges=False, drop="once")
    url = server.add("/files/crs2018.zip", route)
    result = dl.download_crs(url=url, dest=tmp_path, **_fast())

    # The retry asked for a range, got the whole file (200) and rewrote the part
    # from the start instead of appending a second copy.
    assert route.requests[1]["Range"].startswith("bytes=")
    assert len(route.requests) == 2
    assert result.path.read_bytes() == crs_zip


# ------------------------------------------------ hostile servers: every loop ends


def _gives_up(url, tmp_path, **options) -> str:
    with pytest.raises(dl.DownloadError) as caught:
        dl.download_crs(url=url, dest=tmp_path, **_fast(**options))
    message = str(caught.value)
    assert "\n" not in message and url in message
    assert not [p for p in tmp_path.iterdir() if p.suffix in (".zip", ".parquet")]  # nothing under a final name
    return message


def test_a_server_that_ignores_range_and_drops_half_way_ends_after_the_retries(server, crs_zip, ingested, tmp_path):
    # The measured case: each try restarts from zero, which is no progress.
    route = Route(body=crs_zip, ranges=False, drop="always")
    url = server.add("/files/crs2018.zip", route)
    message = _gives_up(url, tmp_path, retries=2)
    assert len(route.requests) == 3
    assert "after 2 retries (Connection broken: IncompleteRead" in message
    assert "crs2018.part is kept" in message and ingested == []


def test_the_measured_command_line_ends_in_one_line(server, crs_zip, tmp_path, capsys):
    # `oda-data download crs --retries 2` against the server of the issue (real backoff: about 2 s).
    route = Route(body=crs_zip, ranges=False, drop="always")
    url = server.add("/files/crs2018.zip", route)
    code = cli.main(["download", "crs", "--url", url, "--dest", str(tmp_path), "--retries", "2", "--quiet", "--no-ingest"])
    err = capsys.readouterr().err
    assert code == 1 and len(route.requests) == 3
    assert err.startswith("oda-data download crs: error: crs2018: giving up on ") and len(err.splitlines()) == 1


def test_a_server_that_drops_every_time_ends_after_the_retries(server, crs_zip, ingested, tmp_path):
    route = Route(body=crs_zip, drop="always")  # honours Range, but each answer is cut in half
    url = server.add("/files/crs2018.zip", route)
    _gives_up(url, tmp_path, retries=2)
    assert len(route.requests) == 3
    assert [r.get("Range") is None for r in route.requests] == [True, False, False]


def test_a_resume_that_brings_new_megabytes_is_free(server, ingested, tmp_path):
    body = _zip_bytes("CRS 2018 data.txt", _crs_text(60000))  # about 5.7 MB
    route = Route(body=body, drop="once")
    url = server.add("/files/crs2018.zip", route)
    result = dl.download_crs(url=url, dest=tmp_path, **_fast(retries=0, chunk_size=1 << 20))
    assert result.path.read_bytes() == body and len(route.requests) == 2


def test_a_gzip_content_encoding_is_decoded_and_checked_on_the_wire(server, crs_zip, ingested, tmp_path):
    # The measured case: the server compresses the zip although the client asked for identity.
    route = Route(body=crs_zip, gzip=True)
    url = server.add("/files/crs2018.zip", route)
    result = dl.download_crs(url=url, dest=tmp_path, **_fast())
    assert len(route.requests) == 1 and route.requests[0]["Accept-Encoding"] == "identity"
    assert result.path.read_bytes() == crs_zip  # the payload, not its gzip wrapping
    assert result.sha256 == hashlib.sha256(crs_zip).hexdigest()
    provenance = json.loads((tmp_path / "crs2018.zip.json").read_text())
    assert (provenance["content_encoding"], provenance["size"]) == ("gzip", len(crs_zip))


def test_a_gzip_answer_cut_short_is_never_resumed_and_ends(server, crs_zip, ingested, tmp_path):
    route = Route(body=crs_zip, gzip=True, drop="always")
    url = server.add("/files/crs2018.zip", route)
    _gives_up(url, tmp_path, retries=2)
    # Decoded bytes cannot be continued by a byte range of the compressed stream.
    assert [r.get("Range") for r in route.requests] == [None, None, None]


def test_a_gzip_answer_cut_once_restarts_and_succeeds(server, crs_zip, ingested, tmp_path):
    route = Route(body=crs_zip, gzip=True, drop="once")
    url = server.add("/files/crs2018.zip", route)
    assert dl.download_crs(url=url, dest=tmp_path, **_fast()).path.read_bytes() == crs_zip
    assert len(route.requests) == 2


def test_an_encoding_the_downloader_cannot_decode_is_refused_at_once(server, crs_zip, ingested, tmp_path):
    class Brotli(_Handler):
        def send_header(self, name, value):
            super().send_header(name, "br" if name == "Content-Encoding" else value)

    server.httpd.RequestHandlerClass = Brotli
    route = Route(body=crs_zip, gzip=True)
    url = server.add("/files/crs2018.zip", route)
    message = _gives_up(url, tmp_path)
    assert "Content-Encoding 'br'" in message and len(route.requests) == 1


def test_a_corrupt_gzip_stream_ends_in_an_error(server, crs_zip, ingested, tmp_path):
    route = Route(body=crs_zip, gzip=True, raw_gzip_body=b"\x1f\x8b\x08\x00" + b"not deflate data" * 50)
    url = server.add("/files/crs2018.zip", route)
    message = _gives_up(url, tmp_path, retries=1)
    assert len(route.requests) == 2 and "decode" in message


def test_a_retry_after_past_the_time_budget_ends_at_once(server, crs_zip, ingested, tmp_path):
    route = Route(body=crs_zip, fail_first=99, retry_after=30)
    url = server.add("/files/crs2018.zip", route)
    started = time.monotonic()
    message = _gives_up(url, tmp_path, max_time=5)
    assert "after its time budget (the next try would start past it, after 30 s)" in message
    assert len(route.requests) == 1 and time.monotonic() - started < 5  # it did not sleep 30 s


def test_a_server_that_never_answers_ends_at_the_time_budget(server, crs_zip, ingested, tmp_path):
    route = Route(body=crs_zip, stall=3.0)
    url = server.add("/files/crs2018.zip", route)
    message = _gives_up(url, tmp_path, max_time=1)
    assert "after its time budget" in message and "timed out" in message.lower()
    assert len(route.requests) == 1


def test_a_complete_part_is_installed_without_fetching_it_again(server, crs_zip, ingested, tmp_path):
    route = Route(body=crs_zip)
    url = server.add("/files/crs2018.zip", route)
    etag = '"' + hashlib.md5(crs_zip).hexdigest() + '"'
    # A run was killed after the last byte, before the file was verified and installed.
    (tmp_path / "crs2018.part").write_bytes(crs_zip)
    (tmp_path / "crs2018.part.json").write_text(json.dumps({"url": url, "etag": etag, "total": len(crs_zip)}))
    result = dl.download_crs(url=url, dest=tmp_path, **_fast())
    assert result.path.read_bytes() == crs_zip
    assert [r.get("Range") for r in route.requests] == [f"bytes={len(crs_zip)}-"]  # answered 416


@pytest.mark.parametrize("delta", [100, -100])
def test_a_wrong_content_length_ends_in_an_error(server, crs_zip, ingested, tmp_path, delta):
    route = Route(body=crs_zip, length_delta=delta)
    url = server.add("/files/crs2018.zip", route)
    message = _gives_up(url, tmp_path, retries=2)
    if delta > 0:  # the body ends short of the announced length: retried, bounded
        assert len(route.requests) == 3 and "IncompleteRead" in message
    else:  # fewer bytes announced than the file has: the zip is truncated
        assert len(route.requests) == 1 and "truncated zip file" in message
        assert _names(tmp_path) == []


def test_500s_then_success(server, crs_zip, ingested, tmp_path):
    route = Route(body=crs_zip, fail_first=2)
    url = server.add("/files/crs2018.zip", route)
    result = dl.download_crs(url=url, dest=tmp_path, **_fast(retries=2))
    assert len(route.requests) == 3
    assert result.path.read_bytes() == crs_zip


def test_500s_past_the_retries_end_in_an_error(server, crs_zip, ingested, tmp_path):
    route = Route(body=crs_zip, fail_first=99)
    url = server.add("/files/crs2018.zip", route)
    message = _gives_up(url, tmp_path, retries=2)
    assert "after 2 retries (HTTP 500 Internal Server Error)" in message
    assert len(route.requests) == 3 and ingested == []


def test_a_slow_server_ends_at_the_time_budget(server, crs_zip, ingested, tmp_path):
    route = Route(body=crs_zip, trickle=0.02)  # 256 bytes every 20 ms: about 4 s for the file
    url = server.add("/files/crs2018.zip", route)
    message = _gives_up(url, tmp_path, max_time=0.5)
    assert "after its time budget" in message and len(route.requests) == 1
    assert 0 < (tmp_path / "crs2018.part").stat().st_size < len(crs_zip)


def test_a_404_names_the_file_and_the_url(server, tmp_path, ingested, capsys):
    dataflow = server.dataflow({"CRS 2018 (dotStat format)": server.base + "/gone.zip"})
    code = cli.main([
        "download", "crs", "--year", "2018", "--dest", str(tmp_path), "--quiet",
        "--dataflow-url", dataflow, "--retries", "0",
    ])
    assert code == 1
    err = capsys.readouterr().err
    assert "CRS 2018 (dotStat format)" in err
    assert f"{server.base}/gone.zip answered HTTP 404" in err
    assert "--list" in err and len(err.splitlines()) == 1
    assert ingested == [] and _names(tmp_path) == []


def test_an_unreachable_server_is_one_line(tmp_path, capsys):
    for args in (["--list", "--dataflow-url", "http://127.0.0.1:9/none"],
                 ["--url", "http://127.0.0.1:9/crs.zip", "--dest", str(tmp_path)],
                 ["--list", "--dataflow-url", "notaurl"]):
        assert cli.main(["download", "crs", "--quiet", "--retries", "1", *args]) == 1
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert "127.0.0.1:9" in err or "notaurl" in err


def test_a_year_missing_from_the_dataflow_lists_the_available_ones(server, tmp_path, capsys):
    dataflow = server.dataflow({"CRS 2019 (dotStat format)": "a.zip", "CRS 2020 (dotStat format)": "b.zip"})
    code = cli.main(["download", "crs", "--year", "2018", "--dest", str(tmp_path), "--dataflow-url", dataflow])
    assert code == 1
    assert "no CRS bulk file for 2018; years available: 2019, 2020" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kind", "message"),
    [("broken", r"broken zip \(bad CRC in 'CRS 2018 data.txt'\)"), ("truncated", "broken or truncated zip file")],
)
def test_a_damaged_zip_is_an_error_and_leaves_no_file(server, crs_zip, ingested, tmp_path, kind, message):
    body = _corrupt_crc(crs_zip) if kind == "broken" else crs_zip[: len(crs_zip) * 2 // 3]
    url = server.add("/files/crs2018.zip", Route(body=body))
    with pytest.raises(dl.DownloadError, match=message) as caught:
        dl.download_crs(url=url, dest=tmp_path, **_fast())
    assert url in str(caught.value)
    assert _names(tmp_path) == []  # no final file, and the damaged .part was removed
    assert ingested == []


def test_an_html_error_page_served_as_200_is_rejected(server, tmp_path, ingested):
    url = server.add("/files/crs2018.zip", Route(body=b"<!DOCTYPE html><html>Just a moment...</html>"))
    with pytest.raises(dl.DownloadError, match="looks like an HTML page"):
        dl.download_crs(url=url, dest=tmp_path, **_fast())
    assert _names(tmp_path) == []


# ------------------------------------------------ never a user's file touched


def test_a_users_file_under_the_final_name_is_never_replaced(server, crs_zip, ingested, tmp_path):
    route = Route(body=crs_zip)
    url = server.add("/files/crs2018.zip", route)
    mine = tmp_path / "crs2018.zip"
    mine.write_bytes(b"my own notes")
    message = _gives_up_keeping(url, tmp_path)
    assert "not a download of oda-data" in message and str(mine) in message
    assert mine.read_bytes() == b"my own notes" and route.requests == []


def _gives_up_keeping(url, tmp_path) -> str:
    with pytest.raises(dl.DownloadError) as caught:
        dl.download_crs(url=url, dest=tmp_path, **_fast())
    return str(caught.value)


def test_a_part_file_the_downloader_did_not_write_is_left_alone(server, crs_zip, ingested, tmp_path):
    route = Route(body=crs_zip)
    url = server.add("/files/crs2018.zip", route)
    (tmp_path / "crs2018.part").write_bytes(b"someone else's")
    message = _gives_up_keeping(url, tmp_path)
    assert "not written by this downloader" in message
    assert (tmp_path / "crs2018.part").read_bytes() == b"someone else's" and route.requests == []


def test_a_kill_mid_download_leaves_only_a_part_that_the_next_run_resumes(server, crs_zip, ingested, tmp_path):
    route = Route(body=crs_zip, trickle=0.02)  # about 4 s for the whole file
    url = server.add("/files/crs2018.zip", route)
    code = (f"from oda_data.crs import download as dl; "
            f"dl.download_crs(url={url!r}, dest={str(tmp_path)!r}, ingest=False, progress=False, chunk_size=1024)")
    child = subprocess.Popen([sys.executable, "-c", code])
    part = tmp_path / "crs2018.part"
    try:
        for _ in range(1200):  # until some bytes have arrived (at most 60 s: the child's imports are slow)
            if part.exists() and part.stat().st_size > 4096:
                break
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
    assert _names(tmp_path) == ["crs2018.part", "crs2018.part.json"]
    route.trickle = 0.0
    result = dl.download_crs(url=url, dest=tmp_path, **_fast())
    assert result.path.read_bytes() == crs_zip
    assert route.requests[-1]["Range"].startswith("bytes=") and route.requests[-1]["Range"] != "bytes=0-"


# ------------------------------------------------ where downloads go


def test_the_default_download_folder_is_outside_the_parquet_cache(server, crs_zip, tmp_path, monkeypatch):
    import pyarrow.dataset as ds

    monkeypatch.delenv(dl.DOWNLOADS_ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))
    users_folder = tmp_path / "projects" / "my-cache"  # $ODA_DATA_CACHE names a folder of the user's
    monkeypatch.setenv("ODA_DATA_CACHE", str(users_folder))
    folder = dl.default_download_dir()
    assert folder == tmp_path / "data-home" / "oda_data" / "downloads"
    url = server.add("/files/crs2018.zip", Route(body=crs_zip))
    result = dl.download_crs(url=url, **_fast())  # the real ingest
    assert result.path.parent == folder
    assert sorted(p.name for p in (tmp_path / "projects").iterdir()) == ["my-cache"]  # nothing beside it
    # No download artefact (zip, .part, its lock, sidecars) in the cache folder: only the cache's own files.
    assert not [p.name for p in users_folder.rglob("*") if p.name.startswith("crs2018.")]
    ds.dataset(str(result.cached), format="parquet").to_table()
    monkeypatch.setenv(dl.DOWNLOADS_ENV_VAR, str(tmp_path / "elsewhere"))
    assert dl.default_download_dir() == tmp_path / "elsewhere"


def test_a_download_folder_inside_the_cache_is_refused(server, crs_zip, ingested, monkeypatch):
    from oda_data.crs import cache as crs_cache

    url = server.add("/files/crs2018.zip", Route(body=crs_zip))
    inside = crs_cache.cache_dir() / "downloads"
    with pytest.raises(dl.DownloadError, match="inside the CRS cache folder"):
        dl.download_crs(url=url, dest=inside, **_fast())
    monkeypatch.setenv(dl.DOWNLOADS_ENV_VAR, str(crs_cache.cache_dir()))
    with pytest.raises(dl.DownloadError, match=r"\$ODA_DATA_DOWNLOADS"):
        dl.download_crs(url=url, **_fast())
    assert not inside.exists()


# ------------------------------------------------ command line and messages


def test_list_prints_the_bulk_files(server, capsys):
    dataflow = server.dataflow({"CRS-Parquet-v20250310": "https://x.example/CRS.parquet", "CRS 2019 (dotStat format)": "https://x.example/2019.zip"})
    assert cli.main(["download", "crs", "--list", "--dataflow-url", dataflow]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "CRS-Parquet (v20250310)\thttps://x.example/CRS.parquet",
        "CRS 2019 (dotStat format)\thttps://x.example/2019.zip",
    ]


def test_control_characters_from_the_server_are_escaped(server, tmp_path, ingested, capsys):
    # A label with a C1 CSI (\x9b, an escape sequence on some terminals) and a
    # right-to-left override; an error answer whose reason clears the screen.
    dataflow = server.dataflow({"CRS-Parquet\x9b2J\u202e": server.base + "/gone.parquet"})
    assert cli.main(["download", "crs", "--list", "--dataflow-url", dataflow]) == 0
    out = capsys.readouterr().out
    assert out.startswith("CRS-Parquet\\x9b2J\\u202e\t")
    assert "\x9b" not in out and "\u202e" not in out
    url = server.add("/files/crs2018.zip", Route(status=403, reason="Forbidden\x1b[2J\x1b[31m"))
    code = cli.main(["download", "crs", "--url", url, "--dest", str(tmp_path), "--quiet", "--retries", "0"])
    assert code == 1
    err = capsys.readouterr().err
    assert "answered HTTP 403 Forbidden -- the server refused" in err
    assert "\x1b" not in err


def test_environment_variables_point_the_locate_step_elsewhere(server, crs_zip, ingested, tmp_path, monkeypatch):
    server.add("/bulk/abc-123", Route(body=crs_zip))
    dataflow = server.dataflow({"CRS-reduced-parquet": "abc-123"})
    monkeypatch.setenv(dl.DATAFLOW_URL_ENV_VAR, dataflow)
    monkeypatch.setenv(dl.BULK_URL_ENV_VAR, server.base + "/bulk/")
    result = dl.download_crs(reduced=True, dest=tmp_path, **_fast())
    assert result.url == server.base + "/bulk/abc-123"
    assert result.path.name == "crs-reduced-parquet.zip"


def test_ingest_failure_keeps_the_file_and_says_how_to_retry(server, crs_zip, tmp_path, monkeypatch, capsys):
    def failing_ingest(path, *, progress=True):
        raise ValueError("column 'DonorCode' missing")

    monkeypatch.setattr(crs_cache, "ingest", failing_ingest)
    url = server.add("/files/crs2018.zip", Route(body=crs_zip))
    code = cli.main(["download", "crs", "--url", url, "--dest", str(tmp_path), "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "column 'DonorCode' missing" in err and "oda-data ingest" in err
    assert (tmp_path / "crs2018.zip").read_bytes() == crs_zip


# ---------------------------------------------------------------- with the real ingest


def test_downloaded_zip_is_ingested_and_read_by_read_crs(server, crs_zip, tmp_path):
    import oda_data

    url = server.add("/files/crs2018.zip", Route(body=crs_zip))
    result = dl.download_crs(url=url, dest=tmp_path / "downloads", **_fast())

    assert result.cached is not None and result.cached.parent == crs_cache.cache_dir()
    crs = oda_data.read_crs(result.path, donors=[701])
    assert len(crs) == 600
    # _crs_text: disbursement of row i is i * 0.1 (rounded to 3 decimals).
    assert crs["usd_disbursement"].sum() == pytest.approx(sum(round(i * 0.1, 3) for i in range(600)))
    assert sorted(crs["purpose_code"].unique()) == [15210, 33110]


def test_deflate64_zips_pass_verification(server, tmp_path, ingested):
    deflate64 = Path(__file__).resolve().parent / "fixtures" / "crs" / "bulk_deflate64.zip"
    if not deflate64.exists():
        pytest.skip("tests/fixtures/crs/bulk_deflate64.zip (from the CRS fixtures) is absent")
    body = deflate64.read_bytes()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert {info.compress_type for info in archive.infolist()} == {9}  # Deflate64
    url = server.add("/CRS%202023%20data.zip", Route(body=body))
    result = dl.download_crs(url=url, dest=tmp_path, **_fast())
    assert result.path.name == "crs-2023-data.zip"
    assert result.path.read_bytes() == body


def test_cli_usage_errors_list_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["download", "crs"])
    assert exit_info.value.code == 2
    assert "one of the arguments --year --full --reduced --url --list is required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["download", "crs", "--year", "18"])
    assert "expected a whole number >= 1960, got '18'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["download", "crs", "--year", "2018", "--max-time", "0"])
    assert cli.main(["download"]) == 2
