"""``WorkspaceMetaFacade``: the ``Workspace`` methods that hand per-image settings, the cache
and the probe index to its ``WorkspaceMeta`` (``workspace.meta``).

Kept apart so that ``curation/workspace.py`` holds the captions, their writes and undo; the
behaviour is ``WorkspaceMeta``'s, documented there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from curation.images import ImageInfo
    from curation.jobs import CancelToken, ItemResult, ProgressFn
    from curation.save_result import SaveResult
    from curation.workspace_meta import WorkspaceMeta


class WorkspaceMetaFacade:
    meta: WorkspaceMeta

    # -- per-image settings (undo steps), cache and probe index -------------------------
    def set_excluded(self, rel: str, excluded: bool = True) -> SaveResult | None:
        return self.meta.set_excluded(rel, excluded)

    def set_excluded_many(self, rels: Iterable[str], excluded: bool = True) -> SaveResult | None:
        """Exclude or include images as ONE undo step (keep/reject decisions too)."""
        return self.meta.set_excluded_many(rels, excluded)

    def is_excluded(self, rel: str) -> bool:
        return self.meta.is_excluded(rel)

    def excluded(self) -> set[str]:
        return self.meta.excluded()

    def note(self, rel: str) -> str:
        return self.meta.note(rel)

    def set_note(self, rel: str, text: str) -> None:
        self.meta.set_note(rel, text)

    def set_override(self, rel: str, key: str, value: object) -> SaveResult | None:
        return self.meta.set_override(rel, key, value)

    def set_override_many(self, rels: Iterable[str], key: str, value: object) -> SaveResult | None:
        """The same override on many images as ONE undo step."""
        return self.meta.set_override_many(rels, key, value)

    def overrides(self, rel: str) -> dict[str, object]:
        return self.meta.overrides(rel)

    def overrides_for(self, key: str) -> dict[str, object]:
        return self.meta.overrides_for(key)

    def cache_get(self, namespace: str, key: str, default: object = None) -> object:
        return self.meta.cache_get(namespace, key, default)

    def cache_put(self, namespace: str, key: str, value: object) -> None:
        self.meta.cache_put(namespace, key, value)

    def cache_get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, object]:
        return self.meta.cache_get_many(namespace, keys)

    def cache_put_many(self, namespace: str, values: Mapping[str, object]) -> None:
        self.meta.cache_put_many(namespace, values)

    def cache_delete(self, namespace: str, key: str | None = None) -> None:
        self.meta.cache_delete(namespace, key)

    def probe_all(
        self,
        rels: Iterable[str] | None = None,
        max_pixels: int | None = None,
        on_progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        thorough: bool = False,
    ) -> list[ItemResult]:
        """Probe images, reusing stored results while a file is unchanged (see
        :meth:`WorkspaceMeta.probe_all`)."""
        return self.meta.probe_all(rels, max_pixels, on_progress, cancel, thorough)

    def image_info(self, rel: str, max_pixels: int | None = None) -> ImageInfo:
        return self.meta.image_info(rel, max_pixels)
