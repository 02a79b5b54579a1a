"""Generate the bundled synthetic stand-in for PrePostQuestions.csv.

The public dataset (AWS Open Data "pre-post-purchase-questions") cannot be
downloaded on the machines this project is built on, so the project ships a
synthetic sample in the same schema (asin, question, item_name, hours_diff,
label). It is deliberately *not* easy: a share of questions is ambiguous
(could be asked before or after buying) with a coin-flip label, and a further
share of labels is flipped, so a good model scores well below 100%.

Run:  python scripts/generate_synthetic_data.py  (fixed seed, byte-identical output)
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import random
from pathlib import Path

CATEGORIES: dict[str, dict[str, list[str]]] = {
    "headphones": {"items": ["Wireless Over-Ear Headphones", "Noise Cancelling Earbuds", "Studio Monitor Headphones"],
                   "parts": ["left earcup", "charging case", "headband", "ear tips", "bluetooth"],
                   "features": ["noise cancellation", "battery life", "microphone", "bass"],
                   "accessories": ["carrying case", "aux cable", "usb-c cable"]},
    "laptop": {"items": ["14-inch Ultrabook", "Gaming Laptop 16GB", "2-in-1 Touchscreen Laptop"],
               "parts": ["keyboard", "trackpad", "screen", "fan", "charger port"],
               "features": ["ram", "ssd", "battery life", "backlit keyboard"],
               "accessories": ["charger", "sleeve", "stylus"]},
    "blender": {"items": ["High-Speed Blender", "Personal Smoothie Blender", "Immersion Hand Blender"],
                "parts": ["blade", "jar", "lid", "motor base"],
                "features": ["wattage", "ice crushing", "pulse setting"],
                "accessories": ["travel cup", "tamper", "recipe book"]},
    "running shoes": {"items": ["Men's Trail Running Shoes", "Women's Road Running Shoes", "Cushioned Running Sneakers"],
                      "parts": ["sole", "laces", "insole", "heel"],
                      "features": ["arch support", "width", "sizing", "waterproofing"],
                      "accessories": ["extra laces", "shoe bag"]},
    "phone case": {"items": ["Rugged Phone Case", "Slim Clear Phone Case", "Wallet Phone Case"],
                   "parts": ["button covers", "camera cutout", "card slot", "edges"],
                   "features": ["drop protection", "wireless charging support", "grip"],
                   "accessories": ["screen protector", "lanyard"]},
    "coffee maker": {"items": ["12-Cup Drip Coffee Maker", "Single Serve Pod Brewer", "Espresso Machine"],
                     "parts": ["carafe", "water tank", "filter basket", "steam wand"],
                     "features": ["programmable timer", "brew strength", "auto shutoff"],
                     "accessories": ["reusable filter", "milk frother", "descaling kit"]},
    "vacuum": {"items": ["Cordless Stick Vacuum", "Robot Vacuum Cleaner", "Bagless Upright Vacuum"],
               "parts": ["brush roll", "dust bin", "filter", "battery pack"],
               "features": ["suction power", "runtime", "pet hair pickup"],
               "accessories": ["crevice tool", "wall mount", "spare filter"]},
    "tent": {"items": ["4-Person Camping Tent", "Ultralight Backpacking Tent", "Instant Pop-Up Tent"],
             "parts": ["rain fly", "zipper", "poles", "stakes"],
             "features": ["waterproof rating", "packed weight", "floor size"],
             "accessories": ["footprint", "gear loft", "repair kit"]},
    "backpack": {"items": ["Travel Laptop Backpack", "Hiking Daypack 30L", "School Backpack"],
                 "parts": ["zipper", "shoulder strap", "laptop sleeve", "side pocket"],
                 "features": ["capacity", "water resistance", "carry-on size"],
                 "accessories": ["rain cover", "luggage strap"]},
    "smartwatch": {"items": ["Fitness Smartwatch", "GPS Running Watch", "Kids Smartwatch"],
                   "parts": ["strap", "screen", "heart rate sensor", "charging dock"],
                   "features": ["battery life", "gps", "sleep tracking", "water resistance"],
                   "accessories": ["extra band", "charger", "screen protector"]},
    "camera": {"items": ["Mirrorless Camera Kit", "4K Action Camera", "Instant Film Camera"],
               "parts": ["lens", "shutter button", "battery door", "memory card slot"],
               "features": ["image stabilization", "low light performance", "video resolution"],
               "accessories": ["memory card", "lens cap", "mounting kit"]},
    "printer": {"items": ["All-in-One Inkjet Printer", "Wireless Laser Printer", "Photo Printer"],
                "parts": ["paper tray", "ink cartridge", "scanner lid", "toner"],
                "features": ["duplex printing", "wifi printing", "print speed"],
                "accessories": ["starter ink", "usb cable", "toner cartridge"]},
    "mattress": {"items": ["Queen Memory Foam Mattress", "Hybrid Spring Mattress", "Twin Mattress Topper"],
                 "parts": ["cover", "foam layer", "edges", "corner"],
                 "features": ["firmness", "cooling", "thickness"],
                 "accessories": ["mattress protector", "pillows"]},
    "sofa": {"items": ["3-Seat Fabric Sofa", "Sleeper Sofa Bed", "Leather Loveseat"],
             "parts": ["cushion", "legs", "armrest", "recliner handle"],
             "features": ["seat depth", "fabric", "assembly"],
             "accessories": ["throw pillows", "slipcover", "hardware"]},
    "drill": {"items": ["20V Cordless Drill", "Hammer Drill Kit", "Compact Impact Driver"],
              "parts": ["chuck", "battery", "trigger", "clutch"],
              "features": ["torque", "battery voltage", "weight"],
              "accessories": ["drill bits", "second battery", "carrying case"]},
    "yoga mat": {"items": ["Extra Thick Yoga Mat", "Non-Slip Travel Yoga Mat", "Cork Yoga Mat"],
                 "parts": ["surface", "edges", "strap"],
                 "features": ["thickness", "grip", "length"],
                 "accessories": ["carrying strap", "yoga block"]},
    "toy": {"items": ["Building Blocks Set", "Remote Control Car", "Plush Teddy Bear"],
            "parts": ["wheels", "remote", "battery cover", "pieces"],
            "features": ["age range", "battery type", "piece count"],
            "accessories": ["batteries", "instruction booklet", "storage bin"]},
    "dog food": {"items": ["Grain-Free Dog Food 30lb", "Puppy Kibble", "Senior Dog Wet Food"],
                 "parts": ["bag seal", "kibble size", "can lid"],
                 "features": ["protein content", "ingredients", "calories per cup"],
                 "accessories": ["scoop", "sample pack"]},
    "face cream": {"items": ["Daily Moisturizer SPF 30", "Night Repair Cream", "Sensitive Skin Face Cream"],
                   "parts": ["pump", "jar lid", "seal"],
                   "features": ["fragrance", "spf", "ingredients", "texture"],
                   "accessories": ["travel size", "spatula"]},
    "guitar": {"items": ["Acoustic Guitar Starter Pack", "Electric Guitar Kit", "Classical Nylon Guitar"],
               "parts": ["tuning pegs", "strings", "neck", "pickup"],
               "features": ["scale length", "body size", "tone"],
               "accessories": ["gig bag", "tuner", "picks", "strap"]},
    "monitor": {"items": ["27-inch 4K Monitor", "Curved Gaming Monitor", "Portable USB-C Monitor"],
                "parts": ["stand", "hdmi port", "screen", "power button"],
                "features": ["refresh rate", "resolution", "vesa mount"],
                "accessories": ["hdmi cable", "displayport cable", "stand"]},
    "air fryer": {"items": ["5.8 Quart Air Fryer", "Air Fryer Toaster Oven", "Compact Air Fryer"],
                  "parts": ["basket", "heating element", "timer dial", "nonstick coating"],
                  "features": ["capacity", "temperature range", "preheat"],
                  "accessories": ["recipe book", "rack", "liners"]},
    "water bottle": {"items": ["Insulated Water Bottle 32oz", "Kids Water Bottle", "Collapsible Bottle"],
                     "parts": ["lid", "straw", "seal", "handle"],
                     "features": ["insulation", "dishwasher safe", "leak proof"],
                     "accessories": ["straw lid", "cleaning brush"]},
    "keyboard": {"items": ["Mechanical Gaming Keyboard", "Wireless Slim Keyboard", "Ergonomic Split Keyboard"],
                 "parts": ["keycaps", "spacebar", "usb receiver", "switches"],
                 "features": ["switch type", "backlight", "layout"],
                 "accessories": ["wrist rest", "keycap puller"]},
}

PRE_TEMPLATES = [
    "Does this {item} come with {accessory}?",
    "does it come with a {accessory}",
    "Is the {feature} good enough for everyday use?",
    "Will this {short} fit {fit}?",
    "Is this compatible with {compat}?",
    "What is the {feature} on this one?",
    "How is the {feature} compared to the older model?",
    "Can I use this {short} for {use}?",
    "Is this the newest version of the {short}?",
    "Does the {short} ship with {accessory} included?",
    "Would you recommend this {short} for {use}?",
    "Is there a warranty if I buy this?",
    "Which color is the one in the picture?",
    "Thinking of buying this {short}, is the {feature} worth it?",
    "Before I order, does it have {feature}?",
    "Is it available in a bigger size?",
    "would this make a good gift for {who}?",
    "Can it be returned if it does not fit?",
    "Does anyone know if the {feature} is adjustable?",
    "How heavy is the {short}?",
    "Is the {part} replaceable if I buy it?",
    "Planning to get one, does the {short} work with {compat}?",
]

POST_TEMPLATES = [
    "My {short} stopped working after {n} {unit}, is there a fix?",
    "The {part} broke after {n} {unit}, where can I get a replacement?",
    "Mine came without the {accessory}, is that normal?",
    "I bought this {short} and the {feature} is not working, any ideas?",
    "How do I reset the {short}? It froze.",
    "How do I clean the {part}?",
    "Has anyone else had the {part} fail?",
    "After {n} {unit} of use the {part} is loose, what do I do?",
    "Received it today but the {part} was damaged, how do I return it?",
    "I have had mine for {n} {unit} and the {feature} got worse, is that expected?",
    "my {part} makes a weird noise now, is it defective",
    "Just got this and the {part} does not fit right, did I assemble it wrong?",
    "Where do I find the warranty info for mine?",
    "the {accessory} that came with it is missing a piece, who do I contact?",
    "Since the last update my {short} won't turn on, help?",
    "I dropped it and the {part} cracked, can it be repaired?",
    "We used it for {n} {unit} and now the {part} leaks, anyone else?",
    "Got it as a gift, how do I set up the {feature}?",
    "Can I replace the {part} on mine myself?",
    "It arrived used with scratches on the {part}, is that normal?",
]

# Questions that could be asked before or after buying: labelled by a coin flip
# tilted towards the class they lean to. How far it tilts depends on the
# product (the same question leans one way for electronics and the other way for
# everything else), an interaction of words that a linear bag-of-words model cannot fit.
AMBIGUOUS_TEMPLATES = [
    ("How long does the {feature} last?", 0.5),
    ("How do I use the {feature}?", 0.6),
    ("Is the {part} made of metal or plastic?", 0.35),
    ("What size {accessory} does it take?", 0.45),
    ("Does the {part} come off for cleaning?", 0.5),
    ("How loud is the {short}?", 0.45),
    ("Is the {feature} easy to set up?", 0.55),
    ("What are the dimensions of the {part}?", 0.4),
    ("Does it need {accessory}?", 0.45),
    ("Does the {feature} work well?", 0.5),
    ("Where is this {short} made?", 0.4),
    ("Can you buy a spare {part}?", 0.55),
]

FITS = ["a queen bed", "my car", "a small kitchen", "a 15 inch laptop", "size 10 feet", "an overhead bin", "my desk"]
COMPATS = ["iphone 15", "android phones", "a mac", "windows 11", "alexa", "dewalt batteries", "a ps5"]
USES = ["travel", "camping", "a small apartment", "my kids", "professional work", "daily commuting", "the gym"]
WHOS = ["a teenager", "my dad", "a beginner", "my wife", "a college student"]
UNITS = [("day", "days"), ("week", "weeks"), ("month", "months")]
FILLERS = ["", "", "", "Hi, ", "Quick question: ", "Hello! ", "Hey all, ", "Please help. "]
SUFFIXES = ["", "", "", " Thanks!", " thx", " Any advice appreciated.", " :)", "??"]
LABELS = ("Pre", "Post")


def _typo(word: str, rng: random.Random) -> str:
    """One realistic keyboard slip: a dropped, doubled or swapped letter."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("drop", "double", "swap"))
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i - 1] + word[i] + word[i - 1] + word[i + 1:]


def _noisy(text: str, rng: random.Random) -> str:
    """Casing and typo noise as seen in real customer questions."""
    words = [(_typo(w, rng) if rng.random() < 0.04 else w) for w in text.split(" ")]
    text = " ".join(words)
    roll = rng.random()
    if roll < 0.15:
        text = text.lower()
    elif roll < 0.18:
        text = text.upper()
    return rng.choice(FILLERS) + text + rng.choice(SUFFIXES)


ELECTRONICS = {"headphones", "laptop", "smartwatch", "camera", "printer", "monitor", "keyboard", "drill",
               "vacuum", "coffee maker", "blender", "air fryer"}


def _category_tilt(category: str, template: str, p_post: float) -> float:
    """Shift an ambiguous template's P(Post) one way for electronics and the other way for the rest."""
    offset = random.Random(template).choice((-0.3, 0.3))
    offset = offset if category in ELECTRONICS else -offset
    return min(0.95, max(0.05, p_post + offset))


def _fill(template: str, category: str, spec: dict[str, list[str]], item: str, rng: random.Random) -> str:
    n = rng.randint(2, 11)
    unit = UNITS[rng.randrange(len(UNITS))][1 if n > 1 else 0]
    return template.format(
        item=item, short=category, part=rng.choice(spec["parts"]), feature=rng.choice(spec["features"]),
        accessory=rng.choice(spec["accessories"]), fit=rng.choice(FITS), compat=rng.choice(COMPATS),
        use=rng.choice(USES), who=rng.choice(WHOS), n=n, unit=unit,
    )


def generate_rows(n_rows: int, seed: int, ambiguous_share: float, flip_share: float) -> list[dict[str, object]]:
    """Rows in the public dataset's schema; about 55% Pre and 45% Post."""
    rng = random.Random(seed)
    categories = sorted(CATEGORIES)
    rows = []
    for _ in range(n_rows):
        category = rng.choice(categories)
        spec = CATEGORIES[category]
        item = rng.choice(spec["items"])
        if rng.random() < ambiguous_share:
            template, p_post = rng.choice(AMBIGUOUS_TEMPLATES)
            p_post = _category_tilt(category, template, p_post)
            label = "Post" if rng.random() < p_post else "Pre"
        else:
            label = "Post" if rng.random() < 0.455 else "Pre"
            template = rng.choice(POST_TEMPLATES if label == "Post" else PRE_TEMPLATES)
        if rng.random() < flip_share:
            label = LABELS[1 - LABELS.index(label)]
        hours = rng.uniform(1, 2000) * (1 if label == "Post" else -1)
        rows.append({
            "asin": f"B0{rng.randrange(16**8):08X}",
            "question": _noisy(_fill(template, category, spec, item, rng), rng),
            "item_name": item,
            "hours_diff": round(hours, 2),
            "label": label,
        })
    return rows


def write_csv_gz(rows: list[dict[str, object]], path: Path) -> None:
    """Write gzip CSV with a fixed mtime so the file is byte-identical across runs."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["asin", "question", "item_name", "hours_diff", "label"])
    writer.writeheader()
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(buffer.getvalue().encode("utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=32000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--ambiguous-share", type=float, default=0.3)
    parser.add_argument("--flip-share", type=float, default=0.06)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "data" / "PrePostQuestions.csv.gz")
    args = parser.parse_args()
    rows = generate_rows(args.rows, args.seed, args.ambiguous_share, args.flip_share)
    write_csv_gz(rows, args.out)
    posts = sum(r["label"] == "Post" for r in rows)
    print(f"wrote {len(rows)} rows to {args.out} ({posts / len(rows):.1%} Post)")


if __name__ == "__main__":
    main()
