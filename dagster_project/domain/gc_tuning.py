"""Python's cyclic garbage collector, tuned for a process that builds months.

With the default thresholds (700, 10, 10) the collector runs a young-generation pass every 700 container
allocations and a full pass every 100 of those. Importing Dagster, dagster-dbt and dbt (mashumaro builds its
classes' code at import) and a dbt build (contexts, Jinja templates, events: millions of small objects) trigger
~1,200 collections, six of them full passes over every object of the process: 0.8 s of a demo month's 6.8 s,
measured with gc.callbacks. Raising the young threshold to 50,000 (and a full pass only after 20,000 young ones)
leaves ~16 collections, 0.2 s; the process ends minutes later anyway, and peak memory stays within a few MB
(a young generation of 50,000 objects; reference counting still frees everything that is not in a cycle).

Nothing here runs at import. `for_building_months` is called by the `fairuse` command before it imports the
pipeline, and by the pipeline's resource when a Dagster run starts (in the run's own process).
`for_loading_definitions` is called when Dagster loads the code location (`definitions.defs`, before the dbt
imports), in every Dagster process: the webserver, the daemon and the code server live long, so there only the
young threshold is raised and full passes stay as frequent relative to young ones as by default (10 x 10); a
run's process then raises it to `THRESHOLDS` when its run starts.
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 1000)  # a process that builds months and ends
LOADING_THRESHOLDS = (50_000, 10, 10)  # any process that loads the definitions, long-lived ones included


def for_building_months() -> None:
    """Set this process's collector thresholds for building months (idempotent; raises them, never lowers)."""
    _raise_to(THRESHOLDS)


def for_loading_definitions() -> None:
    """Raise the young generation's threshold of a process loading the definitions (idempotent, never lowers)."""
    _raise_to(LOADING_THRESHOLDS)


def _raise_to(thresholds: tuple[int, int, int]) -> None:
    current = gc.get_threshold()
    if current[0] == 0:  # collection switched off by whoever runs this process: leave it so
        return
    gc.set_threshold(*(max(c, t) for c, t in zip(current, thresholds, strict=True)))
