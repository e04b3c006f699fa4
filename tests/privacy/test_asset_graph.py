"""Only the ingest, quality and privacy stages read the restricted raw zone: walk the asset graph."""

import dagster as dg

from orchestration.definitions import defs

# layers allowed to depend on raw/ assets: staged (quality gate + privacy), the reports' leak scans (they must know the values they look for), and delivery (a staff member's e-mail address is
# read at send time and never stored). Reports and marts never read raw/.
ALLOWED = {"staged", "dq", "delivery"}


def test_no_asset_outside_ingest_quality_and_privacy_depends_on_raw():
    graph = defs.resolve_asset_graph()
    readers = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        for parent in node.parent_keys:
            if parent.path[0] == "raw":
                readers.setdefault(key.path[0], set()).add(key.to_user_string())
    assert readers, "the walk found no reader of raw/: it would pass vacuously"
    assert set(readers) <= ALLOWED, {k: v for k, v in readers.items() if k not in ALLOWED}
    # the arrival register reads the landing zone's flags only: no raw dep (a missing file must not skip it)
    assert readers["dq"] == {"dq/report_leak_scan", "dq/data_quality_leak_scan"}
    assert readers["delivery"] == {"delivery/monthly", "delivery/weekly"}
    # and every staged asset is downstream of its own raw asset
    staged = [k for k in graph.get_all_asset_keys() if k.path[0] == "staged"]
    assert staged and all(dg.AssetKey(["raw", k.path[1]]) in graph.get(k).parent_keys for k in staged)
