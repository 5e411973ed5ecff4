"""Where the notes that are numbered and collected go: after the text, or after each
division when their numbers start again in each one.

The FRUS volumes number each document's notes from 1, and the FRUS history monograph each
chapter's: collected after the whole text, 106 notes of the volume would read ``[1]``,
and a reader could not tell which is meant. So when the notes' ``@n`` repeat, the notes
follow the divisions at the shallowest depth within which no ``@n`` repeats (the
documents, the chapters), as in print and on history.state.gov. When every ``@n`` is
unique, nothing changes: the notes follow the text.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

from lxml import etree

from teikit.convert.blocks import NOTES, all_forms, in_place

#: What notes can follow: divisions, and the texts of a corpus or a group.
DIVISIONS = all_forms(["div", *(f"div{n}" for n in range(1, 8)), "TEI", "text"])

_Key = TypeVar("_Key", bound=Hashable)


class NoteLevels:
    """Finds the depth of the divisions the notes follow, one note at a time.

    Within a division, only the labels of its notes are kept, and :meth:`close` drops them
    when it ends: a pass over a file of any size keeps no more than one division's labels
    (and each distinct label once).
    """

    def __init__(self) -> None:
        self.labels: set[str] = set()
        self.repeated = False
        self.deepest = 0
        #: per division: the labels of the notes anywhere in it, and of those whose
        #: innermost division it is
        self.within: dict[Hashable, set[str]] = {}
        self.directly: dict[Hashable, set[str]] = {}
        #: depths at which a label repeats within one division, and the depth from which
        #: every deeper one fails too (a label twice in one innermost division)
        self.failed: set[int] = set()
        self.failed_from: int | None = None

    def add(self, label: str | None, chain: Sequence[Hashable]) -> None:
        """A note's ``@n`` (``None`` when it has none: such notes are numbered in sequence
        and never repeat) and the divisions around it, outermost first."""
        if not label:
            return
        if label in self.labels:
            self.repeated = True
        self.labels.add(label)
        self.deepest = max(self.deepest, len(chain))
        for depth, division in enumerate(chain, 1):
            seen = self.within.setdefault(division, set())
            if label in seen:
                self.failed.add(depth)
            seen.add(label)
        own = self.directly.setdefault(chain[-1] if chain else None, set())
        if label in own:
            depth = len(chain) + 1
            self.failed_from = depth if self.failed_from is None else min(self.failed_from, depth)
        own.add(label)

    def close(self, division: Hashable) -> None:
        """``division`` has ended: no later note is in it."""
        self.within.pop(division, None)
        self.directly.pop(division, None)

    def level(self) -> int | None:
        """The depth of the divisions the notes follow, or ``None`` (the text): when no
        ``@n`` repeats, or one repeats even within a single innermost division."""
        if not self.repeated:
            return None
        for depth in range(1, self.deepest + 1):
            if self.failed_from is not None and depth >= self.failed_from:
                break
            if depth not in self.failed:
                return depth
        return None


def restart_level(notes: Iterable[tuple[str | None, Sequence[Hashable]]]) -> int | None:
    """:meth:`NoteLevels.level` for ``notes`` given as (``@n``, divisions around it)."""
    levels = NoteLevels()
    for label, chain in notes:
        levels.add(label, chain)
    return levels.level()


def division_at(chain: Sequence[_Key], level: int) -> _Key | None:
    """The division a note with divisions ``chain`` around it follows at ``level``: the
    one at that depth, or its innermost when it is shallower (a chapter's own notes
    follow the chapter). ``None``: the note is in no division, and follows the text."""
    return chain[min(level, len(chain)) - 1] if chain else None


def note_places(root: etree._Element) -> dict[etree._Element, etree._Element] | None:
    """For each note under ``root`` that is collected (not left in place), the division
    it follows; ``None`` when all follow the text. A note missing from the map (in no
    division) follows the text too."""
    notes = [n for n in root.iter(*NOTES) if not in_place(n)]
    labels = [n.get("n") for n in notes if n.get("n")]
    if len(set(labels)) == len(labels):
        return None  # the usual case, settled without looking at ancestors
    chains = [_divisions_around(n, root) for n in notes]
    level = restart_level((n.get("n"), chain) for n, chain in zip(notes, chains, strict=True))
    if level is None:
        return None
    places: dict[etree._Element, etree._Element] = {}
    for note, chain in zip(notes, chains, strict=True):
        division = division_at(chain, level)
        if division is not None:
            places[note] = division
    return places


def _divisions_around(note: etree._Element, root: etree._Element) -> list[etree._Element]:
    """The divisions ``note`` is in below ``root``, outermost first; those inside another
    note do not count (a note in a note goes where the outer one goes)."""
    chain: list[etree._Element] = []
    for above in note.iterancestors():
        if above is root:
            break
        if above.tag in NOTES:
            chain.clear()
        elif above.tag in DIVISIONS:
            chain.append(above)
    chain.reverse()
    return chain
