"""Trackio projects as polars frames: read every layout, write SQLite transactionally."""

from trackio_tool.store.project import Project, open_project
from trackio_tool.store.summary import ProjectSummary, RunSummary, summarize

__all__ = ["Project", "ProjectSummary", "RunSummary", "open_project", "summarize"]
