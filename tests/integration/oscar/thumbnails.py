"""A thumbnailer for the Oscar tests: the image itself, so no imaging library runs."""

from typing import Any

from oscar.core.thumbnails import AbstractThumbnailer


class SourceImage(AbstractThumbnailer):
    def generate_thumbnail(self, source: Any, **options: Any) -> Any:
        return source

    def delete_thumbnails(self, source: Any) -> None:
        return None
