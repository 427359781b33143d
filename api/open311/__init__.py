"""Open311 GeoReport v2 at /open311/v2 (http://wiki.open311.org/GeoReport_v2): residents' channels and other
city systems report through the same intake as the field app, and follow their requests' cases.

`routes.py` parses the request and picks the format (`.json` / `.xml`); `service.py` maps the spec's fields to
gridflow's (a form to a `ReportIn`, a report and its case to a service request); `keys.py` verifies API keys;
`queries.py` reads reports and cases; `errors.py` answers every failure in the spec's error format;
`xml.py` writes the spec's XML.
"""
