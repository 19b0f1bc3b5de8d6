"""Where a destination is, and how far: haversine distance between a location and a destination placed by
its own coordinates, else by its French département (data/departements.csv), else by its country."""

import csv
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

EARTH_RADIUS_KM = 6371.0088
DATA = Path(__file__).parent / "data" / "departements.csv"

# Rough centres of the countries we ship to outside France (capital or population centre).
COUNTRY_POINTS = {
    "FR": (46.6034, 1.8883),
    "BE": (50.8503, 4.3517),
    "LU": (49.6116, 6.1319),
    "DE": (51.1657, 10.4515),
    "NL": (52.1326, 5.2913),
    "ES": (40.4168, -3.7038),
    "IT": (41.8719, 12.5674),
    "PT": (39.3999, -8.2245),
    "CH": (46.8182, 8.2275),
    "AT": (47.5162, 14.5501),
    "GB": (52.3555, -1.1743),
    "IE": (53.1424, -7.6921),
    "MC": (43.7384, 7.4246),
    "AD": (42.5063, 1.5218),
    "DK": (56.2639, 9.5018),
    "PL": (51.9194, 19.1451),
}


@dataclass(frozen=True)
class Point:
    latitude: float
    longitude: float
    precision: str  # "address" | "departement" | "country"


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


@cache
def departements() -> dict[str, tuple[str, float, float]]:
    rows = {}
    with DATA.open(encoding="utf-8") as handle:
        reader = csv.DictReader(line for line in handle if not line.startswith("#"))
        for row in reader:
            rows[row["code"]] = (row["name"], float(row["latitude"]), float(row["longitude"]))
    return rows


def departement_of(postcode: str) -> str | None:
    """The département code of a French postcode: 2 digits, 2A/2B for Corsica, 3 digits overseas."""
    postcode = (postcode or "").strip().replace(" ", "")
    if len(postcode) != 5 or not postcode.isdigit():
        return None
    if postcode.startswith("20"):
        return "2A" if int(postcode) < 20200 else "2B"
    if postcode.startswith("97"):
        return postcode[:3]
    return postcode[:2]


def place(*, postcode: str = "", country: str = "FR", latitude=None, longitude=None) -> Point | None:
    """A destination's point: its own coordinates when given, else its département, else its country."""
    if latitude is not None and longitude is not None:
        return Point(float(latitude), float(longitude), "address")
    country = (country or "FR").upper()
    if country in ("FR", "MC"):
        code = departement_of(postcode)
        if code == "98" or (code is None and country == "MC"):
            lat, lon = COUNTRY_POINTS["MC"]
            return Point(lat, lon, "country")
        if code in departements():
            _, lat, lon = departements()[code]
            return Point(lat, lon, "departement")
    if country in COUNTRY_POINTS:
        lat, lon = COUNTRY_POINTS[country]
        return Point(lat, lon, "country")
    return None


def distance_km(*, origin: tuple[float, float], destination: Point) -> float:
    return haversine_km(float(origin[0]), float(origin[1]), destination.latitude, destination.longitude)
