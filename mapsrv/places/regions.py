"""First-level regions people put after a name ("London, Ontario", "Perth, WA", "Córdoba,
Andalusia"), for the countries where a name is most often shared across regions.

The built-in list has no region names outside the US (GeoNames' admin1 codes only), so each
region is given by its names and one city in it; the region's code is read off that city's record
when first asked, so a code can never be typed wrong. The regions and their cities are
geographic facts (tests/places/test_context.py checks that every city is found).
"""

from __future__ import annotations

import functools

from mapsrv.places.index import Gazetteer
from mapsrv.places.text import fold

__all__ = ["REGIONS", "Region", "region_names", "region_of_city", "regions_named"]

Region = tuple[str, str]  # (ISO country code, GeoNames admin1 code)

# One region a line: its country, its names and abbreviations (separated by "|"), = a city in it.
_TABLE = """
CA Alberta|AB = Calgary
CA British Columbia|BC = Vancouver
CA Manitoba|MB = Winnipeg
CA New Brunswick|NB = Moncton
CA Newfoundland and Labrador|Newfoundland|NL = St. John's
CA Nova Scotia|NS = Halifax
CA Ontario|ON = Toronto
CA Prince Edward Island|PE|PEI = Charlottetown
CA Quebec|QC = Montréal
CA Saskatchewan|SK = Saskatoon
CA Yukon|YT = Whitehorse
CA Northwest Territories|NT = Yellowknife
AU New South Wales|NSW = Sydney
AU Victoria|VIC = Melbourne
AU Queensland|QLD = Brisbane
AU Western Australia|WA = Perth
AU South Australia|SA = Adelaide
AU Tasmania|TAS = Hobart
AU Australian Capital Territory|ACT = Canberra
AU Northern Territory|NT = Darwin
ES Andalusia|Andalucia = Sevilla
ES Catalonia|Cataluna|Catalunya = Barcelona
ES Community of Madrid|Comunidad de Madrid = Madrid
ES Valencian Community|Comunitat Valenciana|Comunidad Valenciana = Valencia
ES Galicia = Vigo
ES Basque Country|Pais Vasco|Euskadi = Bilbao
ES Castile and Leon|Castilla y Leon = Valladolid
ES Castilla-La Mancha|Castile-La Mancha = Toledo
ES Aragon = Zaragoza
ES Asturias = Oviedo
ES Cantabria = Santander
ES Navarre|Navarra = Pamplona
ES La Rioja = Logroño
ES Extremadura = Badajoz
ES Region of Murcia = Murcia
ES Canary Islands|Canarias = Las Palmas de Gran Canaria
ES Balearic Islands|Baleares = Palma
DE Bavaria|Bayern = Munich
DE Baden-Wurttemberg|Baden-Wuerttemberg = Stuttgart
DE Hesse|Hessen = Frankfurt am Main
DE Lower Saxony|Niedersachsen = Hannover
DE North Rhine-Westphalia|Nordrhein-Westfalen|NRW = Köln
DE Saxony|Sachsen = Dresden
DE Thuringia|Thuringen = Erfurt
DE Brandenburg = Potsdam
DE Saxony-Anhalt|Sachsen-Anhalt = Magdeburg
DE Mecklenburg-Vorpommern|Mecklenburg-Western Pomerania = Rostock
DE Schleswig-Holstein = Kiel
DE Rhineland-Palatinate|Rheinland-Pfalz = Mainz
DE Saarland = Saarbrücken
FR Ile-de-France = Paris
FR Provence-Alpes-Cote d'Azur|Provence|PACA = Marseille
FR Auvergne-Rhone-Alpes = Lyon
FR Occitanie|Occitania = Toulouse
FR Nouvelle-Aquitaine = Bordeaux
FR Brittany|Bretagne = Rennes
FR Normandy|Normandie = Rouen
FR Hauts-de-France = Lille
FR Grand Est = Strasbourg
FR Pays de la Loire = Nantes
FR Centre-Val de Loire = Orléans
FR Bourgogne-Franche-Comte|Burgundy = Dijon
FR Corsica|Corse = Ajaccio
IT Lombardy|Lombardia = Milan
IT Lazio|Latium = Rome
IT Campania = Naples
IT Sicily|Sicilia = Palermo
IT Piedmont|Piemonte = Turin
IT Veneto = Venice
IT Emilia-Romagna = Bologna
IT Tuscany|Toscana = Florence
IT Apulia|Puglia = Bari
IT Calabria = Reggio Calabria
IT Sardinia|Sardegna = Cagliari
IT Liguria = Genoa
IT Marche = Ancona
IT Abruzzo = Pescara
IT Friuli Venezia Giulia|Friuli = Trieste
IT Trentino-Alto Adige|South Tyrol = Trento
IT Umbria = Perugia
MX Jalisco = Guadalajara
MX Nuevo Leon = Monterrey
MX Guanajuato = León de los Aldama
MX Ciudad de Mexico|CDMX|Mexico City = Mexico City
MX Puebla = Puebla
MX Veracruz = Xalapa-Enríquez
MX Yucatan = Mérida
MX Quintana Roo = Cancún
MX Baja California = Tijuana
MX Oaxaca = Oaxaca
MX Chihuahua = Chihuahua
MX Sonora = Hermosillo
MX Coahuila = Saltillo
MX Sinaloa = Culiacán
MX Michoacan = Morelia
MX Queretaro = Santiago de Querétaro
MX Estado de Mexico|Edomex = Toluca
BR Minas Gerais|MG = Belo Horizonte
BR Bahia = Salvador
BR Parana = Curitiba
BR Rio Grande do Sul|RS = Porto Alegre
BR Pernambuco = Recife
BR Ceara = Fortaleza
BR Santa Catarina|SC = Florianópolis
BR Goias = Goiânia
BR Amazonas = Manaus
BR Para = Belém
BR Estado de Sao Paulo = São Paulo
BR Estado do Rio de Janeiro = Rio de Janeiro
IN Maharashtra = Mumbai
IN Karnataka = Bengaluru
IN Tamil Nadu = Chennai
IN Kerala = Thiruvananthapuram
IN West Bengal = Kolkata
IN Gujarat = Ahmedabad
IN Rajasthan = Jaipur
IN Uttar Pradesh = Lucknow
IN Madhya Pradesh = Indore
"""


def _read_table() -> dict[str, tuple[tuple[str, str], ...]]:
    regions: dict[str, tuple[tuple[str, str], ...]] = {}
    for line in _TABLE.strip().splitlines():
        iso, rest = line.split(" ", 1)
        names, city = rest.split(" = ")
        regions[iso] = (*regions.get(iso, ()), (names, city))
    return regions


REGIONS = _read_table()  # country -> (names, a city in the region)


@functools.cache
def _table(index: Gazetteer) -> tuple[dict[str, tuple[Region, ...]], dict[Region, str]]:
    """(folded region name -> the regions it may be, region -> its display name), built at first
    use (~1 ms): each region's code is its city's."""
    named: dict[str, list[Region]] = {}
    display: dict[Region, str] = {}
    for iso, regions in REGIONS.items():
        for names, city in regions:
            region = region_of_city(index, iso, city)
            if region is None:
                continue  # tests/places/test_context.py finds every city: only a data change gets here
            display.setdefault(region, names.split("|")[0])
            for name in names.split("|"):
                named.setdefault(fold(name), []).append(region)
    return {k: tuple(v) for k, v in named.items()}, display


def region_of_city(index: Gazetteer, iso: str, city: str) -> Region | None:
    """The region of the biggest city of that name in that country, None when there is none."""
    best = None
    for ref in index.lookup(fold(city)):
        record = index.records[ref >> 1]
        if record.kind == "city" and record.country_code == iso:
            if best is None or record.population > best.population:
                best = record
    return (iso, best.admin1) if best is not None else None


def regions_named(index: Gazetteer, name: str) -> tuple[Region, ...]:
    """The regions ``name`` may be ("NT": Canada's and Australia's), () for none."""
    return _table(index)[0].get(fold(name), ())


def region_names(index: Gazetteer) -> dict[Region, str]:
    """Each known region's name, for labels: ``("CA", "08") -> "Ontario"``."""
    return _table(index)[1]
