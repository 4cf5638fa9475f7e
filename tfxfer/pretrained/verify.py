"""Find an offline asset's installed files and check them against their SHA-256.

Each checked file is hashed before its first use in a process and again
whenever its `os.stat` changes (size, modification or change time, inode),
so a file replaced or edited after the check is caught, while loading the
same asset twice costs no second hash.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import pathlib
import threading

from tfxfer.datasets.integrity import sha256_of
from tfxfer.errors import AssetNotInstalledError, DataIntegrityError
from tfxfer.pretrained.registry import Asset, get_asset

# (resolved path) -> (stat key, digest) of files already hashed.
_VERIFIED: dict[str, tuple[tuple, str]] = {}
_LOCK = threading.Lock()


def asset_folder(name: str) -> pathlib.Path:
    """Returns the folder holding an asset's files, without checking them.

    The asset's package is found with `importlib.util.find_spec`, which
    locates it without running its code.

    Args:
        name: A registered asset name (`tfxfer.pretrained.ASSETS`).

    Returns:
        The absolute folder path.

    Raises:
        ValueError: If `name` is not a registered asset.
        AssetNotInstalledError: If its package is not installed (the
            message gives the pip command).

    Example:
    >>> tfxfer.pretrained.asset_folder("minilm").name
    'model'
    """
    asset = get_asset(name)
    folder = _package_folder(asset)
    if folder is None or not folder.is_dir():
        raise AssetNotInstalledError(_not_installed(asset))
    return folder


def verify_asset(name: str) -> pathlib.Path:
    """Checks every weight or vector file of an asset against its SHA-256.

    Args:
        name: A registered asset name (`tfxfer.pretrained.ASSETS`).

    Returns:
        The folder holding the verified files.

    Raises:
        ValueError: If `name` is not a registered asset.
        AssetNotInstalledError: If its package is not installed, or a file
            is missing (the message gives the pip command).
        DataIntegrityError: If a file's SHA-256 differs from the recorded
            one, or it resolves outside the asset's folder; the message
            names the file.

    Example:
    >>> tfxfer.pretrained.verify_asset("glove-6b-50d").name
    'data'
    """
    asset = get_asset(name)
    folder = asset_folder(name)
    for relative, expected in asset.files.items():
        path = folder.joinpath(*relative.split("/"))
        if not path.is_file():
            raise AssetNotInstalledError(
                f"The file {path} of the pretrained asset {asset.name!r} is "
                f"missing. Reinstall its package: "
                f"{_reinstall_command(asset)}"
            )
        resolved = path.resolve()
        if not resolved.is_relative_to(folder.resolve()):
            raise DataIntegrityError(
                f"The file {path} of the pretrained asset {asset.name!r} "
                f"resolves to {resolved}, outside the asset's folder {folder}; "
                f"refused. Reinstall its package: {_reinstall_command(asset)}"
            )
        actual = _digest(resolved)
        if actual != expected:
            raise DataIntegrityError(
                f"The file {path} of the pretrained asset {asset.name!r} is "
                f"corrupt or was modified: its SHA-256 is {actual}, expected "
                f"{expected}. Reinstall its package: {_reinstall_command(asset)}"
            )
    return folder


@dataclasses.dataclass(frozen=True)
class AssetStatus:
    """What `tfxfer assets` shows for one asset."""

    name: str
    kind: str
    installed: bool
    verified: bool
    problem: str | None
    folder: str | None
    size: int
    licence: str
    install_command: str
    description: str


def asset_status(name: str, *, check: bool = True) -> AssetStatus:
    """Says whether an asset is installed and (with `check`) intact.

    Args:
        name: A registered asset name.
        check: Hash the files (a fraction of a second per 100 MB, once per
            process while the files are unchanged). False only looks for
            the package.

    Returns:
        An `AssetStatus`; a missing or damaged asset is reported in it, not
        raised.

    Example:
    >>> status = tfxfer.pretrained.asset_status("minilm")
    >>> status.installed, status.verified
    (True, True)
    """
    asset = get_asset(name)
    folder, problem, verified = None, None, False
    try:
        folder = str(asset_folder(name))
        if check:
            verify_asset(name)
            verified = True
    except (AssetNotInstalledError, DataIntegrityError) as error:
        problem = str(error)
    return AssetStatus(
        name=asset.name,
        kind=asset.kind,
        installed=folder is not None,
        verified=verified,
        problem=problem,
        folder=folder,
        size=asset.size,
        licence=asset.licence,
        install_command=asset.install_command,
        description=asset.description,
    )


def _package_folder(asset: Asset) -> pathlib.Path | None:
    try:
        spec = importlib.util.find_spec(asset.module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    root = pathlib.Path(next(iter(spec.submodule_search_locations)))
    return (root / asset.folder).resolve()


def _digest(path: pathlib.Path) -> str:
    stat = os.stat(path)
    key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    with _LOCK:
        known = _VERIFIED.get(str(path))
    if known is not None and known[0] == key:
        return known[1]
    digest = sha256_of(path)
    with _LOCK:
        _VERIFIED[str(path)] = (key, digest)
    return digest


def _not_installed(asset: Asset) -> str:
    return (
        f"The pretrained asset {asset.name!r} ({asset.description}) is not "
        f"installed: its package {asset.package!r} was not found. Install it "
        f"with `{asset.install_command}` (--no-deps: tfxfer needs none of the "
        "package's own dependencies). tfxfer downloads nothing at run time."
    )


def _reinstall_command(asset: Asset) -> str:
    return f"`{asset.install_command} --force-reinstall`"
