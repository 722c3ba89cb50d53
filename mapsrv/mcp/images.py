"""The server's one ``MapImages`` (the tool's and the web's map images), made from the config: the
tile server when the basemap uses it, layers' tiles through the guarded fetcher, and the street
basemaps (``mapsrv.http.basemaps``)."""

from __future__ import annotations

from mapsrv.config import Config
from mapsrv.http.basemaps import Basemaps
from mapsrv.http.fetch import SourcePolicy, tile_fetcher
from mapsrv.http.pmtiles import ArchiveReaders
from mapsrv.image.service import MapImages

__all__ = ["map_images"]


def map_images(config: Config, policy: SourcePolicy, basemaps: Basemaps) -> MapImages:
    return MapImages(
        config.online_tiles(),
        fetch=tile_fetcher(policy),
        archive=ArchiveReaders(policy).tile,
        attribution=config.tile_attribution,
        origins=policy.origins,
        deadline=config.tile_deadline,
        streets=basemaps,
    )
