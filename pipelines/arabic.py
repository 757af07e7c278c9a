"""The Arabic folding of the annotation contract, shared by the scorer and claim grouping.

ANNOTATION.md ("Scoring") compares texts after removing diacritics and tatweel and folding
أ إ آ ٱ→ا، ى→ي، ة→ه، ؤ→و، ئ→ي. ``evaluate`` scores with it and ``claims`` groups quotations
with it, so both import it from here rather than one from the other. (Detection matches on
its own folded view, ``clean.clean_text``, which keeps ة and the hamza seats on و and ي.)
"""

from __future__ import annotations

import re

# Harakat U+064B–U+0652 and the dagger alif U+0670, and tatweel U+0640: removed.
_DIACRITICS = re.compile("[\u064b-\u0652\u0670\u0640]")
# Hamza seats and wasla on alif → alif; alif maqsura → ya; ta marbuta → ha; hamza on waw/ya.
_FOLD = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"}
)


def normalise(text: str) -> str:
    """Remove diacritics and tatweel, fold the letter variants the contract names."""
    return _DIACRITICS.sub("", text).translate(_FOLD)
