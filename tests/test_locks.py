"""The hashed locks install with plain pip anywhere: no machine's folders, every pin hashed,
markers resolved for every supported Python, the runtime lock free of development tools."""

from __future__ import annotations

import re
import tomllib

import pytest

from service import config

ROOT = config.ROOT
LOCKS = {name: ROOT / "requirements" / f"{name}.lock" for name in ("runtime", "dev")}
PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+?)(?: ;\s*(.+?))?\s*\\?$")


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def parse(text: str) -> dict[str, tuple[str, str | None, list[str]]]:
    """name -> (version, marker, hashes)."""
    pins: dict[str, tuple[str, str | None, list[str]]] = {}
    current = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("--hash=sha256:"):
            assert current is not None, line
            pins[current][2].append(stripped.removeprefix("--hash=sha256:").rstrip(" \\"))
            continue
        match = PIN.match(stripped)
        assert match, f"not a hashed pin: {line!r}"
        current = match[1].lower()
        pins[current] = (match[2], match[3], [])
    return pins


@pytest.mark.parametrize("name", LOCKS)
def test_lock_names_no_machine_and_hashes_every_pin(name):
    text = LOCKS[name].read_text(encoding="utf-8")
    machine = ("file:", "--extra-index-url", "--index-url", "--find-links", "/opt/", "/root/")
    for bad in machine:
        assert bad not in text, f"{name}.lock mentions {bad!r}"
    pins = parse(text)
    assert pins
    for package, (_version, _marker, hashes) in pins.items():
        assert hashes, f"{package} has no hash"
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), package


def test_locks_resolve_markers_for_every_supported_python():
    # redis needs async-timeout below 3.11.3 (Debian 12's own Python is 3.11.2): a lock compiled
    # on one newer interpreter leaves it out and pip then refuses the unpinned requirement.
    for name, path in LOCKS.items():
        version, marker, _hashes = parse(path.read_text(encoding="utf-8"))["async-timeout"]
        assert marker == "python_full_version < '3.11.3'", (name, marker)


def test_dev_lock_holds_the_runtime_lock_as_is():
    runtime = parse(LOCKS["runtime"].read_text(encoding="utf-8"))
    dev = parse(LOCKS["dev"].read_text(encoding="utf-8"))
    for package, (version, marker, hashes) in runtime.items():
        assert package in dev, package
        assert dev[package][0] == version, package
        assert dev[package][1] == marker, package
        assert sorted(dev[package][2]) == sorted(hashes), package


def test_locks_follow_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = parse(LOCKS["runtime"].read_text(encoding="utf-8"))
    dev = parse(LOCKS["dev"].read_text(encoding="utf-8"))
    for requirement in project["dependencies"]:
        assert _name(requirement) in runtime, requirement
    for requirement in project["optional-dependencies"]["dev"]:
        assert _name(requirement) in dev, requirement
        # Test and lint tools never ship in the image.
        assert _name(requirement) not in runtime, requirement
    assert "cryptography" in runtime
