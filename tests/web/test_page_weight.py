"""The disclosure page with its verifier stays light enough for a slow phone (issue 18: at most 150 KB
transferred): the page, the verifier's modules, the vendored noble code and the proof, at gzip size."""

from __future__ import annotations

from tests.web.weight import GOAL_BYTES, disclosure_weight, table


def test_the_disclosure_page_with_its_verifier_weighs_at_most_150_kb_transferred(page, site, capsys):
    transfers = disclosure_weight(page, site.disclosure_url())
    with capsys.disabled():
        print("\n" + table(transfers))
    loaded = {t.path.split("?")[0] for t in transfers}
    assert {"/static/js/verify-page.js", "/static/js/verify.js", "/static/vendor/noble-ed25519.js",
            f"/api/disclosures/{site.disclosure_id}/proof"} <= loaded
    assert sum(t.gzipped for t in transfers) <= GOAL_BYTES
