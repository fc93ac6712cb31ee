#!/usr/bin/env python3
"""Writes config/demo/catalog.db: the demo site's SQLite product catalog.

Deterministic: a fixed seed and fixed insertion order, so running it again
with the same SQLite version produces the same file. Standard library only.

    scripts/gen-demo-catalog.py [OUTPUT]   (default: config/demo/catalog.db)
"""
import os
import random
import sqlite3
import sys

SEED = 20240601
COUNT = 300

# category -> (nouns, price range)
CATEGORIES = {
    "sneakers": (["Sneaker", "Low-Top Sneaker", "High-Top Sneaker", "Court Sneaker"], (39, 149)),
    "running": (["Running Shoe", "Trail Runner", "Racing Flat", "Running Sneaker"], (59, 189)),
    "boots": (["Chelsea Boot", "Hiking Boot", "Ankle Boot", "Work Boot"], (79, 259)),
    "sandals": (["Sandal", "Slide", "Flip-Flop", "Sport Sandal"], (19, 89)),
    "jackets": (["Rain Jacket", "Denim Jacket", "Puffer Jacket", "Windbreaker"], (49, 229)),
    "coats": (["Wool Coat", "Parka", "Trench Coat", "Peacoat"], (99, 349)),
    "bags": (["Tote Bag", "Crossbody Bag", "Duffel Bag", "Messenger Bag"], (29, 199)),
    "backpacks": (["Backpack", "Daypack", "Laptop Backpack", "Rolltop Backpack"], (39, 169)),
    "hats": (["Cap", "Beanie", "Bucket Hat", "Sun Hat"], (12, 49)),
    "scarves": (["Scarf", "Knit Scarf", "Silk Scarf"], (15, 79)),
    "socks": (["Crew Socks", "Ankle Socks", "Hiking Socks"], (6, 24)),
    "belts": (["Leather Belt", "Canvas Belt", "Braided Belt"], (19, 69)),
    "sunglasses": (["Sunglasses", "Aviator Sunglasses", "Sport Sunglasses"], (25, 180)),
}

BRANDS = ["Northpeak", "Urban Stride", "Coastline", "Ironwood", "Velo", "Lumen",
          "Fjordline", "Saltmarsh", "Brightside", "Kestrel"]

MODELS = ["Trailblazer", "Summit", "Harbor", "Metro", "Drift", "Ember", "Aurora",
          "Nomad", "Tempo", "Glacier", "Canyon", "Breeze", "Pioneer", "Vista",
          "Orbit", "Ridge", "Solstice", "Horizon", "Falcon", "Meadow"]

COLORS = ["red", "blue", "black", "white", "green", "grey", "navy", "brown",
          "beige", "olive", "pink", "yellow", "orange", "purple"]

MATERIALS = ["recycled mesh", "full-grain leather", "organic cotton", "merino wool",
             "ripstop nylon", "suede", "canvas", "waxed cotton", "recycled polyester"]

USES = ["everyday wear", "long city walks", "weekend hikes", "the daily commute",
        "rainy days", "travel", "the gym", "cold mornings", "summer trips"]


# Hand-written first rows, so the demo's example questions ("red sneakers
# under 50 in stock") have answers.
SHOWCASE = [
    ("Trailblazer Red Running Sneaker", "Velo", "running", 44.99, 1, "red", 4.6, "2024-03-14"),
    ("Metro Red Low-Top Sneaker", "Urban Stride", "sneakers", 39.99, 1, "red", 4.2, "2024-02-02"),
    ("Tempo Red Court Sneaker", "Brightside", "sneakers", 49.00, 1, "red", None, "2024-06-20"),
    ("Drift Red High-Top Sneaker", "Coastline", "sneakers", 64.99, 1, "red", 3.9, "2023-09-01"),
    ("Ember Red Sneaker", "Lumen", "sneakers", 29.99, 0, "red", 4.0, "2022-11-11"),
    ("Summit Black Hiking Boot", "Northpeak", "boots", 149.99, 1, "black", 4.8, "2023-10-05"),
    ("Glacier Navy Puffer Jacket", "Fjordline", "jackets", 189.00, 1, "navy", 4.5, "2023-11-20"),
    ("Harbor Brown Chelsea Boot", "Ironwood", "boots", 129.99, 1, "brown", 4.4, "2022-09-15"),
    ("Nomad Olive Rolltop Backpack", "Kestrel", "backpacks", 89.99, 1, "olive", 4.7, "2024-01-08"),
    ("Breeze White Sport Sandal", "Saltmarsh", "sandals", 34.99, 1, "white", None, "2024-05-01"),
]


def showcase(rng, pid, row):
    name, brand, category, price, in_stock, color, rating, released = row
    noun = name.split(" ", 2)[2].lower()
    description = (f"{brand} {name.split()[0]} {noun} in {color}, made of "
                   f"{rng.choice(MATERIALS)}. Built for {rng.choice(USES)}.")
    return (pid, name, brand, category, price, in_stock, color, rating, released, description)


def product(rng, pid):
    category = rng.choice(sorted(CATEGORIES))
    nouns, (lo, hi) = CATEGORIES[category]
    noun = rng.choice(nouns)
    color = rng.choice(COLORS)
    model = rng.choice(MODELS)
    brand = rng.choice(BRANDS)
    name = f"{model} {color.capitalize()} {noun}"
    price = round(rng.uniform(lo, hi)) - 0.01 if rng.random() < 0.7 else round(rng.uniform(lo, hi), 2)
    in_stock = 1 if rng.random() < 0.8 else 0
    # Newer products often have no reviews yet.
    rating = None if rng.random() < 0.15 else round(rng.uniform(2.5, 5.0), 1)
    year = rng.choice([2021, 2022, 2023, 2024])
    released = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    description = (f"{brand} {model} {noun.lower()} in {color}, made of "
                   f"{rng.choice(MATERIALS)}. Built for {rng.choice(USES)}.")
    return (pid, name, brand, category, price, in_stock, color, rating, released, description)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "config", "demo", "catalog.db")
    tmp = out + ".tmp"
    if os.path.exists(tmp):
        os.remove(tmp)
    rng = random.Random(SEED)
    db = sqlite3.connect(tmp)
    db.executescript("""
        PRAGMA page_size = 4096;
        PRAGMA journal_mode = DELETE;
        CREATE TABLE products (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            brand TEXT NOT NULL,
            category TEXT NOT NULL,
            price REAL NOT NULL,
            in_stock INTEGER NOT NULL CHECK (in_stock IN (0, 1)),
            color TEXT NOT NULL,
            rating REAL,
            released TEXT NOT NULL,
            description TEXT NOT NULL
        );
        CREATE INDEX products_category ON products (category);
        CREATE INDEX products_price ON products (price);
    """)
    rows = [showcase(rng, i + 1, r) for i, r in enumerate(SHOWCASE)]
    rows += [product(rng, pid) for pid in range(len(rows) + 1, COUNT + 1)]
    db.executemany("INSERT INTO products VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    db.commit()
    db.execute("VACUUM")
    db.close()
    os.replace(tmp, out)
    print(f"wrote {out}: {COUNT} products", file=sys.stderr)


if __name__ == "__main__":
    main()
