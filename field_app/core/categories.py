"""The category list after GB/T 30428.2 (部件/事件 → 大类 → 小类), cached for offline use, with search."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from field_app.core.db import Database

KIND_LABELS = {"component": "部件", "event": "事件"}


@dataclass(frozen=True)
class CategoryItem:
    code: str
    name: str
    kind: str
    major_code: str
    major_name: str

    @property
    def label(self) -> str:
        return f"{self.major_name} · {self.name}"


class CategoryCatalog:
    """The picker's data: read from the local cache, refreshed from GET /api/v1/categories when online."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def replace(self, items: list[dict[str, Any]]) -> int:
        """Swap in the server's list in one transaction, keeping its order (the order of the standard)."""
        checked = [
            CategoryItem(
                code=str(i["code"]),
                name=str(i["name"]),
                kind=str(i["kind"]),
                major_code=str(i["major_code"]),
                major_name=str(i["major_name"]),
            )
            for i in items
        ]
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM categories")
            conn.executemany(
                "INSERT INTO categories (code, name, kind, major_code, major_name, position)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(c.code, c.name, c.kind, c.major_code, c.major_name, n) for n, c in enumerate(checked)],
            )
        return len(checked)

    def all(self) -> list[CategoryItem]:
        rows = self.db.query(
            "SELECT code, name, kind, major_code, major_name FROM categories ORDER BY position"
        )
        return [CategoryItem(**dict(row)) for row in rows]

    def get(self, code: str) -> CategoryItem | None:
        return next((c for c in self.all() if c.code == code), None)

    def majors(self, kind: str) -> list[tuple[str, str]]:
        """(major_code, major_name) of one kind, in the standard's order."""
        seen: dict[str, str] = {}
        for item in self.all():
            if item.kind == kind:
                seen.setdefault(item.major_code, item.major_name)
        return list(seen.items())

    def minors(self, major_code: str) -> list[CategoryItem]:
        return [c for c in self.all() if c.major_code == major_code]

    def search(self, text: str, limit: int = 50) -> list[CategoryItem]:
        """Every 小类 whose name, 大类 name or code contains all the typed words."""
        words = text.split()
        if not words:
            return []
        found = [
            c
            for c in self.all()
            if all(w in c.name or w in c.major_name or c.code.startswith(w) for w in words)
        ]
        return found[:limit]
