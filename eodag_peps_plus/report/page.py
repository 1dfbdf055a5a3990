"""The HTML shell both pages share, and the search report page.

Every value that came from a server or a file reaches the page escaped: HTML text through
``html.escape``, data for the script as JSON with ``<`` escaped (so ``</script>`` in a product
name cannot end the element), and popups are built with ``textContent``, never ``innerHTML``.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from . import assets
from .products import STATUS_STYLE, ReportProduct, Summary
from .timeline import timeline_svg

__all__ = [
    "BASE_CSS",
    "SEARCH_CSS",
    "SEARCH_JS",
    "html_page",
    "json_for_script",
    "search_report_html",
    "summary_html",
]

BASE_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{padding:12px 20px;background:#1f3b57;color:#fff}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;opacity:.85}
section{margin:14px 20px;padding:12px 16px;background:#fff;border:1px solid #ddd;border-radius:6px}
h2{font-size:16px;margin:0 0 8px}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dl.summary dt{font-weight:600}dl.summary dd{margin:0}
.notice{background:#fff4ce;border:1px solid #e0c060;padding:6px 10px;margin-bottom:8px;border-radius:4px}
.legend-box{background:#fff;padding:6px 8px;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);line-height:1.6}
.swatch{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:middle;border:1px solid #555}
.timeline text{font-size:12px;fill:#333}.timeline .grid{stroke:#e3e3e3}.timeline .axis,.timeline .tick{stroke:#555}
.timeline .mark{stroke:#222;stroke-width:.8;fill-opacity:.9;cursor:pointer}.timeline .mark:hover{stroke-width:2.5}
table.popup td{padding:1px 6px 1px 0;vertical-align:top}table.popup td:first-child{font-weight:600;white-space:nowrap}
"""

SEARCH_CSS = "#map{height:520px;border-radius:4px}"

#: The map: footprints coloured by status, the search area, popups, and a notice when the
#: base-map tiles cannot be loaded. Clicking a timeline mark opens that product's popup.
SEARCH_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var notice = document.getElementById("tiles-status");
  var map = L.map("map", {worldCopyJump: true});
  var tilesLoaded = false;
  if (data.tiles) {
    var tiles = L.tileLayer(data.tiles.url, {attribution: data.tiles.attribution, maxZoom: 19});
    tiles.on("tileload", function () { tilesLoaded = true; notice.hidden = true; });
    tiles.on("tileerror", function () { if (!tilesLoaded) { notice.hidden = false; } });
    tiles.addTo(map);
  } else {
    notice.textContent = "No base map: footprints are drawn on a blank background.";
    notice.hidden = false;
  }
  function popup(p) {
    var table = document.createElement("table");
    table.className = "popup";
    Object.keys(p.popup).forEach(function (key) {
      var row = table.insertRow();
      row.insertCell().textContent = key;
      row.insertCell().textContent = p.popup[key];
    });
    return table;
  }
  function point(style) {
    return function (feature, latlng) { return L.circleMarker(latlng, style); };
  }
  var footprints = L.featureGroup().addTo(map);
  var byId = {};
  data.products.forEach(function (p) {
    if (!p.geometry) { return; }
    var style = {color: p.colour, weight: 1.5, fillColor: p.colour, fillOpacity: 0.12,
                 className: "footprint status-" + p.status};
    var layer = L.geoJSON(p.geometry, {style: style, pointToLayer: point(style)});
    layer.bindPopup(popup(p));
    layer.addTo(footprints);
    byId[p.id] = layer;
  });
  var bounds = footprints.getBounds();
  if (data.area) {
    var areaStyle = {color: "#d62728", weight: 2.5, dashArray: "6 4", fill: false,
                     interactive: false, className: "search-area"};
    var area = L.geoJSON(data.area, {style: areaStyle, pointToLayer: point(areaStyle)}).addTo(map);
    bounds = bounds.isValid() ? bounds.extend(area.getBounds()) : area.getBounds();
  }
  if (bounds.isValid()) { map.fitBounds(bounds, {padding: [20, 20], maxZoom: 11}); }
  else { map.setView([20, 0], 2); }
  var legend = L.control({position: "bottomright"});
  legend.onAdd = function () {
    var box = L.DomUtil.create("div", "legend-box");
    data.legend.forEach(function (entry) {
      var line = L.DomUtil.create("div", "", box);
      var swatch = L.DomUtil.create("span", "swatch", line);
      swatch.style.background = entry.colour;
      line.appendChild(document.createTextNode(entry.label + " (" + entry.count + ")"));
    });
    if (data.area) {
      var line = L.DomUtil.create("div", "", box);
      var swatch = L.DomUtil.create("span", "swatch", line);
      swatch.style.border = "2px dashed #d62728";
      line.appendChild(document.createTextNode("search area"));
    }
    return box;
  };
  legend.addTo(map);
  document.querySelectorAll("#timeline .mark").forEach(function (mark) {
    mark.addEventListener("click", function () {
      var layer = byId[mark.getAttribute("data-id")];
      if (!layer) { return; }
      document.getElementById("map").scrollIntoView({behavior: "smooth"});
      map.fitBounds(layer.getBounds(), {maxZoom: 10});
      layer.openPopup();
    });
  });
})();
"""


def json_for_script(value: Any) -> str:
    """JSON that is safe inside a ``<script>`` element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def html_page(title: str, subtitle: str, body: str, *, css: str = "", head: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>{head}<style>{BASE_CSS}{css}</style></head>"
        f"<body><header><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></header>"
        f"{body}</body></html>\n"
    )


def summary_html(summary: Summary) -> str:
    rows = "".join(
        f'<dt>{escape(key)}</dt><dd data-key="{escape(key)}">{escape(value)}</dd>'
        for key, value in summary.lines()
    )
    return f'<section id="summary"><h2>Summary</h2><dl class="summary">{rows}</dl></section>'


def _map_data(
    products: list[ReportProduct],
    summary: Summary,
    area: dict[str, Any] | None,
    tiles: str | None,
    attribution: str,
) -> dict[str, Any]:
    """What the page's script draws: the footprints, the area, the base map, the legend."""
    return {
        "products": [
            {
                "id": p.id,
                "geometry": p.geometry,
                "status": p.status.value,
                "colour": p.colour,
                "popup": p.popup(),
            }
            for p in products
        ],
        "area": area,
        "tiles": {"url": tiles, "attribution": attribution} if tiles else None,
        "legend": [
            {
                "status": status.value,
                "colour": colour,
                "label": label,
                "count": summary.by_status.get(status, 0),
            }
            for status, (colour, label) in STATUS_STYLE.items()
        ],  # fmt: skip
    }


def search_report_html(
    products: list[ReportProduct],
    summary: Summary,
    *,
    title: str = "Search report",
    area: dict[str, Any] | None = None,
    tiles: str | None = assets.DEFAULT_TILES,
    attribution: str = assets.DEFAULT_ATTRIBUTION,
) -> str:
    """The whole page: summary, map, timeline. ``tiles=None`` draws no base map."""
    if products:
        subtitle = (
            f"{len(products)} product(s) acquired from {products[0].day} to {products[-1].day}"
        )
    else:
        subtitle = "no product"
    data = _map_data(products, summary, area, tiles, attribution)
    missing = sum(1 for p in products if p.geometry is None)
    note = (
        f'<p class="notice">{missing} product(s) have no footprint and are not on the map.</p>'
        if missing
        else ""
    )
    body = (
        summary_html(summary) + '<section id="map-section"><h2>Footprints</h2>'
        '<div id="tiles-status" class="notice" role="status" hidden>Base-map tiles could not be '
        "loaded (offline?): footprints are drawn on a blank background.</div>"
        f'{note}<div id="map"></div></section>'
        '<section id="timeline-section"><h2>Acquisition timeline</h2>'
        "<p>One mark per product: date across, cloud cover up, colour = availability, "
        "shape = relative orbit. Hover a mark for the product; click it to find it on the map."
        f"</p>{timeline_svg(products)}</section>"
        f"<script>{assets.leaflet_js()}</script>"
        f'<script id="report-data" type="application/json">{json_for_script(data)}</script>'
        f"<script>{SEARCH_JS}</script>"
    )
    return html_page(
        title, subtitle, body, css=SEARCH_CSS, head=f"<style>{assets.leaflet_css()}</style>"
    )
