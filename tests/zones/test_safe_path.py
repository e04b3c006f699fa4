"""crm.zones.safe_path: every rule it refuses, symlink escapes, and messages that name the origin and the
rule, never the value."""

from __future__ import annotations

import os
import uuid

import pytest

from crm.zones import UnsafePathError, check_name, row_origin, safe_path

ORIGIN = "staff file STAFF_20260131_001.dat row 7"


@pytest.fixture
def zone(tmp_path):
    root = tmp_path / "home" / "reports"
    root.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    return root, outside


def _marker() -> str:
    return f"m{uuid.uuid4().hex[:8]}"


# (part, rule phrase); {m} is a random marker that must not reach the message
HOSTILE = [
    ("/tmp/{m}", "absolute"),
    ("\\{m}", "absolute"),
    ("C:{m}", "Windows drive"),
    ("c:\\{m}", "Windows drive"),
    ("{m}/x", "separator"),
    ("x\\{m}", "separator"),
    ("..", "'.' or '..'"),
    (".", "'.' or '..'"),
    ("{m}\x00", "NUL"),
    ("{m}\x01", "control or format"),
    ("{m}\n", "control or format"),
    ("{m}\u202e", "control or format"),  # right-to-left override
    ("{m}\u2066", "control or format"),  # left-to-right isolate
    ("{m}\u200b", "control or format"),  # zero-width space
    ("{m}\u2028", "control or format"),  # line separator
    ("{m}" + "x" * 300, "longer than 255 bytes"),
    ("", "empty"),
]


@pytest.mark.parametrize(("template", "rule"), HOSTILE, ids=[repr(h[0]) for h in HOSTILE])
def test_each_rule_is_refused_with_origin_and_without_the_value(zone, template, rule):
    root, _ = zone
    m = _marker()
    part = template.format(m=m)
    with pytest.raises(UnsafePathError) as info:
        safe_path(root, "2026-01", "key_account", part, origin=ORIGIN, suffix=".html")
    msg = str(info.value)
    assert rule in info.value.rule and rule in msg
    assert ORIGIN in msg and "zone reports" in msg
    if "{m}" in template:  # ("." and ".." are in every sentence)
        assert m not in msg and part not in msg
    assert isinstance(info.value, ValueError)
    assert list(root.rglob("*")) == []  # nothing made


@pytest.mark.parametrize("part", [None, 7, float("nan")])
def test_a_part_that_is_not_text_is_refused(zone, part):
    root, _ = zone
    with pytest.raises(UnsafePathError, match="is not text"):
        safe_path(root, part, origin=ORIGIN)


def test_no_part_is_refused(zone):
    with pytest.raises(UnsafePathError, match="gives no name"):
        safe_path(zone[0], origin=ORIGIN)


def test_a_plain_name_gives_root_slash_parts(zone):
    root, _ = zone
    assert (
        safe_path(root, "2026-01", "key_account", "S0001", origin=ORIGIN, suffix=".html")
        == root / "2026-01" / "key_account" / "S0001.html"
    )
    # dots inside a name are kept (with_suffix would have cut "S1.b" to "S1.html")
    assert safe_path(root, "S1.b", origin=ORIGIN, suffix=".pdf").name == "S1.b.pdf"
    assert safe_path(root, "王**", origin=ORIGIN).name == "王**"  # any printable text is a name


def test_a_symlinked_folder_leading_out_is_refused(zone):
    root, outside = zone
    (root / "2026-01").mkdir()
    os.symlink(outside, root / "2026-01" / "key_account")
    with pytest.raises(UnsafePathError, match="resolves outside the zone") as info:
        safe_path(root, "2026-01", "key_account", "S0001", origin=ORIGIN, suffix=".html")
    assert ORIGIN in str(info.value) and str(outside) not in str(info.value)


def test_a_symlinked_file_leading_out_is_refused(zone):
    root, outside = zone
    target = outside / "victim.html"
    target.write_text("keep me")
    os.symlink(target, root / "S0001.html")
    with pytest.raises(UnsafePathError, match="resolves outside the zone"):
        safe_path(root, "S0001", origin=ORIGIN, suffix=".html")
    assert target.read_text() == "keep me"


def test_a_dangling_symlink_leading_out_is_refused(zone):
    root, outside = zone
    os.symlink(outside / "not_yet.html", root / "S0001.html")  # a write would create the file outside
    with pytest.raises(UnsafePathError, match="resolves outside the zone"):
        safe_path(root, "S0001.html", origin=ORIGIN)
    assert not (outside / "not_yet.html").exists()


def test_a_symlink_to_the_zone_itself_is_refused(zone):
    root, _ = zone
    os.symlink(root, root / "loop")
    with pytest.raises(UnsafePathError, match="resolves outside the zone"):
        safe_path(root, "loop", origin=ORIGIN)


def test_a_symlink_loop_is_refused(zone):
    root, _ = zone
    os.symlink(root / "b", root / "a")
    os.symlink(root / "a", root / "b")
    with pytest.raises(UnsafePathError):
        safe_path(root, "a", "x.html", origin=ORIGIN)


def test_symlinks_that_stay_inside_and_a_symlinked_root_are_allowed(zone, tmp_path):
    root, outside = zone
    (root / "real").mkdir()
    os.symlink(root / "real", root / "alias")
    assert safe_path(root, "alias", "S0001.html", origin=ORIGIN) == root / "alias" / "S0001.html"
    linked_root = tmp_path / "linked_reports"
    os.symlink(outside, linked_root)  # the zone itself may live elsewhere (a mounted volume)
    assert safe_path(linked_root, "S0001.html", origin=ORIGIN) == linked_root / "S0001.html"


def test_check_name_uses_the_same_rules():
    assert check_name("crm.staff", origin="suite", zone="dq") == "crm.staff"
    with pytest.raises(UnsafePathError, match="zone dq: the name from the run id is '.' or '..'"):
        check_name("..", origin="the run id", zone="dq")


def test_row_origin_names_file_and_row_only():
    assert row_origin("staff", "STAFF_20260131_001.dat", 7) == ORIGIN
    assert row_origin("staff", None, None) == "staff directory (row not known)"
    assert row_origin("staff", float("nan"), 3) == "staff directory (row not known)"
    assert row_origin("staff", "../../x", 3) == "staff file (unnamed file) row 3"


def test_within_checks_a_stored_whole_path(zone):
    from crm.zones import within

    root, outside = zone
    (root / "2026-01").mkdir()
    inside = root / "2026-01" / "S0001.pdf"
    assert within(root, inside, origin="outbox row 3") == inside
    for bad in (outside / "x.pdf", root / ".." / "outside" / "x.pdf", root):
        with pytest.raises(UnsafePathError, match="outbox row 3 resolves outside the zone") as info:
            within(root, bad, origin="outbox row 3")
        assert str(outside) not in str(info.value)
    os.symlink(outside / "x.pdf", root / "2026-01" / "S0002.pdf")
    with pytest.raises(UnsafePathError):
        within(root, root / "2026-01" / "S0002.pdf", origin="outbox row 4")
