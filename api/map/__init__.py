"""地图 (the dashboard's map): areas as simplified GeoJSON shapes with their open and overdue cases, cases and
a case's reports as points, and reports per day — all scoped by the caller like the rest of the API."""
