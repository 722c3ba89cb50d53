"""The ColorBrewer colour schemes that styles by value draw their classes and categories in.

The schemes are Cynthia Brewer's ColorBrewer colour specifications (colorbrewer2.org, Apache-2.0
licensed data), written out as the published hex values for 3 to 9 classes (the qualitative Set2
and Dark2 stop at 8).
"""

from __future__ import annotations

from mapsrv.errors import InvalidInput

__all__ = ["DIVERGING", "MAX_CLASSES", "MIN_CLASSES", "QUALITATIVE", "RAMPS", "SEQUENTIAL", "palette"]

MIN_CLASSES = 3
MAX_CLASSES = 9
SEQUENTIAL = ("YlOrRd", "YlGnBu", "Blues", "Greens", "Reds", "Purples", "OrRd", "PuBu", "BuGn", "Greys")
DIVERGING = ("RdBu", "RdYlBu", "BrBG", "PiYG", "Spectral")
QUALITATIVE = ("Set2", "Dark2", "Paired", "Set3")

# scheme -> classes -> the colours, lightest (or first) first, as "rrggbb" words
_SCHEMES: dict[str, dict[int, str]] = {
    "YlOrRd": {
        3: "ffeda0 feb24c f03b20",
        4: "ffffb2 fecc5c fd8d3c e31a1c",
        5: "ffffb2 fecc5c fd8d3c f03b20 bd0026",
        6: "ffffb2 fed976 feb24c fd8d3c f03b20 bd0026",
        7: "ffffb2 fed976 feb24c fd8d3c fc4e2a e31a1c b10026",
        8: "ffffcc ffeda0 fed976 feb24c fd8d3c fc4e2a e31a1c b10026",
        9: "ffffcc ffeda0 fed976 feb24c fd8d3c fc4e2a e31a1c bd0026 800026",
    },
    "YlGnBu": {
        3: "edf8b1 7fcdbb 2c7fb8",
        4: "ffffcc a1dab4 41b6c4 225ea8",
        5: "ffffcc a1dab4 41b6c4 2c7fb8 253494",
        6: "ffffcc c7e9b4 7fcdbb 41b6c4 2c7fb8 253494",
        7: "ffffcc c7e9b4 7fcdbb 41b6c4 1d91c0 225ea8 0c2c84",
        8: "ffffd9 edf8b1 c7e9b4 7fcdbb 41b6c4 1d91c0 225ea8 0c2c84",
        9: "ffffd9 edf8b1 c7e9b4 7fcdbb 41b6c4 1d91c0 225ea8 253494 081d58",
    },
    "Blues": {
        3: "deebf7 9ecae1 3182bd",
        4: "eff3ff bdd7e7 6baed6 2171b5",
        5: "eff3ff bdd7e7 6baed6 3182bd 08519c",
        6: "eff3ff c6dbef 9ecae1 6baed6 3182bd 08519c",
        7: "eff3ff c6dbef 9ecae1 6baed6 4292c6 2171b5 084594",
        8: "f7fbff deebf7 c6dbef 9ecae1 6baed6 4292c6 2171b5 084594",
        9: "f7fbff deebf7 c6dbef 9ecae1 6baed6 4292c6 2171b5 08519c 08306b",
    },
    "Greens": {
        3: "e5f5e0 a1d99b 31a354",
        4: "edf8e9 bae4b3 74c476 238b45",
        5: "edf8e9 bae4b3 74c476 31a354 006d2c",
        6: "edf8e9 c7e9c0 a1d99b 74c476 31a354 006d2c",
        7: "edf8e9 c7e9c0 a1d99b 74c476 41ab5d 238b45 005a32",
        8: "f7fcf5 e5f5e0 c7e9c0 a1d99b 74c476 41ab5d 238b45 005a32",
        9: "f7fcf5 e5f5e0 c7e9c0 a1d99b 74c476 41ab5d 238b45 006d2c 00441b",
    },
    "Reds": {
        3: "fee0d2 fc9272 de2d26",
        4: "fee5d9 fcae91 fb6a4a cb181d",
        5: "fee5d9 fcae91 fb6a4a de2d26 a50f15",
        6: "fee5d9 fcbba1 fc9272 fb6a4a de2d26 a50f15",
        7: "fee5d9 fcbba1 fc9272 fb6a4a ef3b2c cb181d 99000d",
        8: "fff5f0 fee0d2 fcbba1 fc9272 fb6a4a ef3b2c cb181d 99000d",
        9: "fff5f0 fee0d2 fcbba1 fc9272 fb6a4a ef3b2c cb181d a50f15 67000d",
    },
    "Purples": {
        3: "efedf5 bcbddc 756bb1",
        4: "f2f0f7 cbc9e2 9e9ac8 6a51a3",
        5: "f2f0f7 cbc9e2 9e9ac8 756bb1 54278f",
        6: "f2f0f7 dadaeb bcbddc 9e9ac8 756bb1 54278f",
        7: "f2f0f7 dadaeb bcbddc 9e9ac8 807dba 6a51a3 4a1486",
        8: "fcfbfd efedf5 dadaeb bcbddc 9e9ac8 807dba 6a51a3 4a1486",
        9: "fcfbfd efedf5 dadaeb bcbddc 9e9ac8 807dba 6a51a3 54278f 3f007d",
    },
    "OrRd": {
        3: "fee8c8 fdbb84 e34a33",
        4: "fef0d9 fdcc8a fc8d59 d7301f",
        5: "fef0d9 fdcc8a fc8d59 e34a33 b30000",
        6: "fef0d9 fdd49e fdbb84 fc8d59 e34a33 b30000",
        7: "fef0d9 fdd49e fdbb84 fc8d59 ef6548 d7301f 990000",
        8: "fff7ec fee8c8 fdd49e fdbb84 fc8d59 ef6548 d7301f 990000",
        9: "fff7ec fee8c8 fdd49e fdbb84 fc8d59 ef6548 d7301f b30000 7f0000",
    },
    "PuBu": {
        3: "ece7f2 a6bddb 2b8cbe",
        4: "f1eef6 bdc9e1 74a9cf 0570b0",
        5: "f1eef6 bdc9e1 74a9cf 2b8cbe 045a8d",
        6: "f1eef6 d0d1e6 a6bddb 74a9cf 2b8cbe 045a8d",
        7: "f1eef6 d0d1e6 a6bddb 74a9cf 3690c0 0570b0 034e7b",
        8: "fff7fb ece7f2 d0d1e6 a6bddb 74a9cf 3690c0 0570b0 034e7b",
        9: "fff7fb ece7f2 d0d1e6 a6bddb 74a9cf 3690c0 0570b0 045a8d 023858",
    },
    "BuGn": {
        3: "e5f5f9 99d8c9 2ca25f",
        4: "edf8fb b2e2e2 66c2a4 238b45",
        5: "edf8fb b2e2e2 66c2a4 2ca25f 006d2c",
        6: "edf8fb ccece6 99d8c9 66c2a4 2ca25f 006d2c",
        7: "edf8fb ccece6 99d8c9 66c2a4 41ae76 238b45 005824",
        8: "f7fcfd e5f5f9 ccece6 99d8c9 66c2a4 41ae76 238b45 005824",
        9: "f7fcfd e5f5f9 ccece6 99d8c9 66c2a4 41ae76 238b45 006d2c 00441b",
    },
    "Greys": {
        3: "f0f0f0 bdbdbd 636363",
        4: "f7f7f7 cccccc 969696 525252",
        5: "f7f7f7 cccccc 969696 636363 252525",
        6: "f7f7f7 d9d9d9 bdbdbd 969696 636363 252525",
        7: "f7f7f7 d9d9d9 bdbdbd 969696 737373 525252 252525",
        8: "ffffff f0f0f0 d9d9d9 bdbdbd 969696 737373 525252 252525",
        9: "ffffff f0f0f0 d9d9d9 bdbdbd 969696 737373 525252 252525 000000",
    },
    "RdBu": {
        3: "ef8a62 f7f7f7 67a9cf",
        4: "ca0020 f4a582 92c5de 0571b0",
        5: "ca0020 f4a582 f7f7f7 92c5de 0571b0",
        6: "b2182b ef8a62 fddbc7 d1e5f0 67a9cf 2166ac",
        7: "b2182b ef8a62 fddbc7 f7f7f7 d1e5f0 67a9cf 2166ac",
        8: "b2182b d6604d f4a582 fddbc7 d1e5f0 92c5de 4393c3 2166ac",
        9: "b2182b d6604d f4a582 fddbc7 f7f7f7 d1e5f0 92c5de 4393c3 2166ac",
    },
    "RdYlBu": {
        3: "fc8d59 ffffbf 91bfdb",
        4: "d7191c fdae61 abd9e9 2c7bb6",
        5: "d7191c fdae61 ffffbf abd9e9 2c7bb6",
        6: "d73027 fc8d59 fee090 e0f3f8 91bfdb 4575b4",
        7: "d73027 fc8d59 fee090 ffffbf e0f3f8 91bfdb 4575b4",
        8: "d73027 f46d43 fdae61 fee090 e0f3f8 abd9e9 74add1 4575b4",
        9: "d73027 f46d43 fdae61 fee090 ffffbf e0f3f8 abd9e9 74add1 4575b4",
    },
    "BrBG": {
        3: "d8b365 f5f5f5 5ab4ac",
        4: "a6611a dfc27d 80cdc1 018571",
        5: "a6611a dfc27d f5f5f5 80cdc1 018571",
        6: "8c510a d8b365 f6e8c3 c7eae5 5ab4ac 01665e",
        7: "8c510a d8b365 f6e8c3 f5f5f5 c7eae5 5ab4ac 01665e",
        8: "8c510a bf812d dfc27d f6e8c3 c7eae5 80cdc1 35978f 01665e",
        9: "8c510a bf812d dfc27d f6e8c3 f5f5f5 c7eae5 80cdc1 35978f 01665e",
    },
    "PiYG": {
        3: "e9a3c9 f7f7f7 a1d76a",
        4: "d01c8b f1b6da b8e186 4dac26",
        5: "d01c8b f1b6da f7f7f7 b8e186 4dac26",
        6: "c51b7d e9a3c9 fde0ef e6f5d0 a1d76a 4d9221",
        7: "c51b7d e9a3c9 fde0ef f7f7f7 e6f5d0 a1d76a 4d9221",
        8: "c51b7d de77ae f1b6da fde0ef e6f5d0 b8e186 7fbc41 4d9221",
        9: "c51b7d de77ae f1b6da fde0ef f7f7f7 e6f5d0 b8e186 7fbc41 4d9221",
    },
    "Spectral": {
        3: "fc8d59 ffffbf 99d594",
        4: "d7191c fdae61 abdda4 2b83ba",
        5: "d7191c fdae61 ffffbf abdda4 2b83ba",
        6: "d53e4f fc8d59 fee08b e6f598 99d594 3288bd",
        7: "d53e4f fc8d59 fee08b ffffbf e6f598 99d594 3288bd",
        8: "d53e4f f46d43 fdae61 fee08b e6f598 abdda4 66c2a5 3288bd",
        9: "d53e4f f46d43 fdae61 fee08b ffffbf e6f598 abdda4 66c2a5 3288bd",
    },
    "Set2": {
        3: "66c2a5 fc8d62 8da0cb",
        4: "66c2a5 fc8d62 8da0cb e78ac3",
        5: "66c2a5 fc8d62 8da0cb e78ac3 a6d854",
        6: "66c2a5 fc8d62 8da0cb e78ac3 a6d854 ffd92f",
        7: "66c2a5 fc8d62 8da0cb e78ac3 a6d854 ffd92f e5c494",
        8: "66c2a5 fc8d62 8da0cb e78ac3 a6d854 ffd92f e5c494 b3b3b3",
    },
    "Dark2": {
        3: "1b9e77 d95f02 7570b3",
        4: "1b9e77 d95f02 7570b3 e7298a",
        5: "1b9e77 d95f02 7570b3 e7298a 66a61e",
        6: "1b9e77 d95f02 7570b3 e7298a 66a61e e6ab02",
        7: "1b9e77 d95f02 7570b3 e7298a 66a61e e6ab02 a6761d",
        8: "1b9e77 d95f02 7570b3 e7298a 66a61e e6ab02 a6761d 666666",
    },
    "Paired": {
        3: "a6cee3 1f78b4 b2df8a",
        4: "a6cee3 1f78b4 b2df8a 33a02c",
        5: "a6cee3 1f78b4 b2df8a 33a02c fb9a99",
        6: "a6cee3 1f78b4 b2df8a 33a02c fb9a99 e31a1c",
        7: "a6cee3 1f78b4 b2df8a 33a02c fb9a99 e31a1c fdbf6f",
        8: "a6cee3 1f78b4 b2df8a 33a02c fb9a99 e31a1c fdbf6f ff7f00",
        9: "a6cee3 1f78b4 b2df8a 33a02c fb9a99 e31a1c fdbf6f ff7f00 cab2d6",
    },
    "Set3": {
        3: "8dd3c7 ffffb3 bebada",
        4: "8dd3c7 ffffb3 bebada fb8072",
        5: "8dd3c7 ffffb3 bebada fb8072 80b1d3",
        6: "8dd3c7 ffffb3 bebada fb8072 80b1d3 fdb462",
        7: "8dd3c7 ffffb3 bebada fb8072 80b1d3 fdb462 b3de69",
        8: "8dd3c7 ffffb3 bebada fb8072 80b1d3 fdb462 b3de69 fccde5",
        9: "8dd3c7 ffffb3 bebada fb8072 80b1d3 fdb462 b3de69 fccde5 d9d9d9",
    },
}
RAMPS: dict[str, dict[int, tuple[str, ...]]] = {
    name: {n: tuple("#" + c for c in words.split()) for n, words in by_n.items()}
    for name, by_n in _SCHEMES.items()
}


def palette(name: str, n: int) -> list[str]:
    """The ColorBrewer scheme ``name`` for ``n`` classes (3 to 9), as ``#rrggbb`` colours."""
    scheme = RAMPS.get(name) if isinstance(name, str) else None
    if scheme is None:
        raise InvalidInput(
            f"ramp must be one of {', '.join(RAMPS)} (sequential, diverging, then qualitative for"
            f" categories), got {name!r:.40}; pick one of those"
        )
    if n not in scheme:
        raise InvalidInput(
            f"ramp {name} must have {min(scheme)} to {max(scheme)} classes, got {n};"
            " use fewer or another ramp"
        )
    return list(scheme[n])
