"""Monthly report and customer notices, from the published warehouse and the finance exports (no Dagster here).

`build_month_report(warehouse, exports_dir, reports_dir, month)` writes `<reports_dir>/YYYY-MM/report.html` (one
self-contained page, charts inlined as SVG) and the month's customer notices under `notices/`.
"""

from dagster_project.domain.report.report import ReportResult, build_month_report

__all__ = ["ReportResult", "build_month_report"]
