"""The map's JSON answers besides GeoJSON (which the routes describe in their OpenAPI text)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class DayOut(BaseModel):
    day: date = Field(description="a local day (Asia/Shanghai)")
    reports: int = Field(description="上报: reports observed that day")
    triage: int = Field(description="of them, in triage (待分拨) when decided")


class SeriesOut(BaseModel):
    area_code: str
    days: list[DayOut] = Field(description="every day of the period, oldest first, zeros included")
