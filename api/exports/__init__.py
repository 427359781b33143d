"""Exports for the 基层治理统计调查 and the assessments: cases and indicators per area and period, as CSV or
XLSX with Chinese headers, streamed so that a year of the whole city never sits in memory."""
