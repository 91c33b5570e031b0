"""Search quality does not regress: precision at k on the labelled corpus
(search_quality.py explains the corpus and the measure).

Measured on the same corpus and queries:
  before keyphrases, Chinese segmentation and stemmed search (commit 58f7e4c): 0.487
  after: 0.859
"""

from __future__ import annotations

import search_quality

BEFORE = 0.487
AFTER = 0.859


def test_precision_at_k_does_not_fall(server):
    search_quality.upload_corpus(server)
    mean, per_query = search_quality.precision_at_k(server)
    report = "\n".join(f"{p:.2f} {q}" for q, p in per_query.items())
    assert mean >= AFTER - 0.005, f"precision at k fell to {mean:.3f} (was {AFTER}):\n{report}"
    # the cases the issue named
    for q in ("virtual runtime", "chloroplast", "进程调度", "页表"):
        assert per_query[q] == 1.0, (q, report)
