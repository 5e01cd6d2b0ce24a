"""Section: what one experiment of the tour reports (claim, numbers, figures, how to reproduce)."""
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Section:
    """The result of one experiment.

    key: short name ("timer"); title: heading; claim: the statement the experiment checks, in one or
    two sentences; holds: whether the numbers of this run bear the claim out; numbers: JSON-ready
    measurements; figures: PNG files written into the output directory; command: the command line
    that reproduces it; notes: caveats, and what is still missing (e.g. a method not yet built).
    """
    key: str
    title: str
    claim: str
    holds: bool
    numbers: dict
    figures: list[Path] = field(default_factory=list)
    command: str = ""
    notes: str = ""
