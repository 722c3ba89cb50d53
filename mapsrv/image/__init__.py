"""The map as an image, without a browser: drawn with Pillow as the page draws it (``render``),
on tiles fetched concurrently with short timeouts and kept in a bounded cache, or on the offline
basemap when they do not come (``service``)."""

__all__: list[str] = []
