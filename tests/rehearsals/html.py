"""Reading the pages' HTML in tests, with Django's own parser (no third-party HTML library)."""

from django.test.html import Element, parse_html


def classes(element: Element) -> list[str]:
    return dict(element.attributes).get("class", "").split()


def find(root, css_class: str) -> list[Element]:
    """Every element under root (depth first) that has the class."""
    found = []
    for child in getattr(root, "children", []):
        if isinstance(child, Element):
            if css_class in classes(child):
                found.append(child)
            found += find(child, css_class)
    return found


def text(element) -> str:
    if isinstance(element, str):
        return element
    return " ".join(" ".join(text(c) for c in element.children).split())


def page(client, url) -> Element:
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return parse_html(response.content.decode())
