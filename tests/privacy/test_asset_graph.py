"""Only the ingest, quality and privacy stages read the restricted raw zone: walk the asset graph."""

import dagster as dg

from orchestration.definitions import defs

# layers allowed to depend on raw/ assets: staged (quality gate + privacy) and the DQ arrival register
ALLOWED = {"staged", "dq"}


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
    # and every staged asset is downstream of its own raw asset
    staged = [k for k in graph.get_all_asset_keys() if k.path[0] == "staged"]
    assert staged and all(dg.AssetKey(["raw", k.path[1]]) in graph.get(k).parent_keys for k in staged)
