"""Generate the bundled synthetic stand-in for PrePostQuestions.csv.

The public dataset (AWS Open Data "pre-post-purchase-questions") cannot be
downloaded on the machines this project is built on, so the project ships a
synthetic sample in the same schema (asin, question, item_name, hours_diff,
label). Each product category knows what its owners ask (defects stated
plainly, error codes and lights, missing parts, sizing after washing, noises,
setup, pairing, resetting, cleaning, replacement parts, storage, warranty and
returns) and what its shoppers ask (specs, dimensions, materials,
compatibility, comparisons, what is in the box, shipping, sizing, suitability).
Questions come in the registers real ones do: short, mostly lower-case, often
without a question mark, with typos; a few are long and chatty; boilerplate
greetings are rare. Product words are only ever drawn from the row's own
category. It is deliberately not easy: some questions are ambiguous (the same
words asked before and after buying) and a share of labels is flipped.

Run:  python scripts/generate_synthetic_data.py [--rows N]  (fixed seed, byte-identical output)
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import gzip
import io
import random
from pathlib import Path

from common.config import PROJECT_ROOT

REAL_PRE_SHARE = 0.577  # the public dataset: 232,492 rows, 57.7% Pre
LABELS = ("Pre", "Post")
REDRAWS = 3  # tries at a question not yet written before a repeat is kept
COLUMNS = ["asin", "question", "item_name", "hours_diff", "label"]


@dataclasses.dataclass(frozen=True)
class Category:
    """What shoppers and owners of one kind of product talk about.

    ``traits`` switch on the kinds of question that only make sense for some
    products: ``power`` (resetting, stops working), ``display`` (error codes),
    ``lights`` (status lights), ``wireless`` (pairing), ``motor`` (noises),
    ``water`` (descaling), ``wearable`` (sizing), ``fabric`` (shrinking in the wash),
    ``assembly`` (screws), ``setup`` (has setup steps), ``smell`` (odours), ``food`` (cooking), ``edible`` (nothing to clean,
    repair or claim under warranty).
    """
    items: tuple[str, ...]
    nouns: tuple[str, ...]
    parts: tuple[str, ...]
    accessories: tuple[str, ...]
    consumables: tuple[str, ...]
    specs: tuple[str, ...]
    materials: tuple[str, ...]
    fits: tuple[str, ...]
    rivals: tuple[str, ...]
    uses: tuple[str, ...]
    defects: tuple[str, ...]
    owner_howtos: tuple[str, ...]
    setups: tuple[str, ...]
    traits: frozenset[str]


def _c(traits: str, **fields: list[str]) -> Category:
    """A Category from lists; one with setup steps also gets the ``setup`` trait."""
    traits += " setup" if fields["setups"] else ""
    return Category(traits=frozenset(traits.split()), **{k: tuple(v) for k, v in fields.items()})


CATEGORIES: dict[str, Category] = {
    "headphones": _c(
        "power lights wireless",
        items=["Wireless Over-Ear Headphones", "Noise Cancelling Earbuds", "Sport Bluetooth Earphones"],
        nouns=["headphones", "earbuds", "headset"],
        parts=["earcup", "headband", "ear cushions", "charging case", "mic", "left bud", "right bud"],
        accessories=["charging cable", "carry pouch", "aux cord", "extra ear tips"],
        consumables=["ear pads", "ear tips", "cushions"],
        specs=["how many hours of playtime", "do they have active noise cancelling", "what bluetooth version",
               "is there a transparency mode", "can you take calls with them", "is there a volume limit for kids",
               "do they have an eq in the app", "what codecs does it support aptx or ldac"],
        materials=["protein leather", "memory foam", "plastic", "aluminum"],
        fits=["a samsung galaxy", "an ipad", "a ps5 controller", "a pixel phone", "a windows laptop"],
        rivals=["airpods pro", "the sony xm4", "bose qc45", "the older version"],
        uses=["running", "working out at the gym", "flights", "sleeping on my side", "zoom calls"],
        defects=["the left side cuts out", "right bud went silent", "the headband cracked at the hinge",
                 "sound is crackly on the right side", "the case stopped charging the buds",
                 "mic makes me sound muffled", "the ear cushions are flaking"],
        owner_howtos=["turn off the voice prompts", "switch between noise cancelling and ambient",
                      "check the battery level", "update the firmware"],
        setups=["set up the touch controls", "get the app to see them"],
    ),
    "laptop": _c(
        "power lights display wireless",
        items=["14-inch Ultrabook 16GB", "Gaming Laptop RTX", "2-in-1 Touchscreen Chromebook"],
        nouns=["laptop", "notebook", "chromebook"],
        parts=["keyboard", "trackpad", "hinge", "screen", "fan", "charging port", "webcam"],
        accessories=["power adapter", "sleeve", "stylus pen", "usb-c dongle"],
        consumables=["battery", "power adapter", "keyboard cover"],
        specs=["how much ram", "is the ssd upgradeable", "does it have a backlit keyboard", "what cpu is in it",
               "how many usb ports", "does it have an hdmi out", "is the screen touch", "what graphics card"],
        materials=["aluminum", "plastic", "magnesium"],
        fits=["two external monitors", "a usb-c dock", "linux", "office 365", "a 1tb nvme drive"],
        rivals=["the macbook air", "the dell xps 13", "the 2022 model", "the i7 version"],
        uses=["college", "video editing", "light gaming", "a 10 year old for school", "programming"],
        defects=["the hinge snapped on one side", "screen flickers when i open it past 90 degrees",
                 "keyboard has a few keys that dont register", "trackpad clicks by itself",
                 "battery drains overnight while shut", "fan runs full blast all the time"],
        owner_howtos=["turn on the keyboard light", "get into the bios", "make the fan quieter",
                      "change the charging limit"],
        setups=["skip the microsoft account at setup", "move files from the old laptop"],
    ),
    "phone case": _c(
        "",
        items=["Rugged Phone Case", "Slim Clear Phone Case", "Wallet Phone Case with Card Slots"],
        nouns=["case", "cover"],
        parts=["button covers", "camera cutout", "card slot", "corners", "kickstand", "clip"],
        accessories=["screen protector", "belt clip", "lanyard"],
        consumables=["screen protector"],
        specs=["how many cards fit in the wallet", "is it magsafe compatible", "does it add much bulk",
               "what drop height is it rated for", "does the clear one turn yellow"],
        materials=["silicone", "tpu", "polycarbonate", "leather"],
        fits=["the iphone 14 pro", "a galaxy s23", "the pixel 7a", "the iphone 15 plus", "a moto g"],
        rivals=["otterbox defender", "the spigen one", "the apple silicone case"],
        uses=["a construction job", "a toddler who throws everything", "hiking"],
        defects=["the clear back turned yellow", "the kickstand snapped off", "corners started splitting",
                 "the card slot stretched out", "buttons are really hard to press now"],
        owner_howtos=["get the case off without breaking it", "get dust out from under the edges"],
        setups=["put the phone in without the screen protector lifting"],
    ),
    "smartwatch": _c(
        "power lights display wireless",
        items=["Fitness Smartwatch", "GPS Running Watch", "Kids Smartwatch with Calls"],
        nouns=["watch", "smartwatch", "tracker"],
        parts=["band", "screen", "heart rate sensor", "charging dock", "side button", "clasp"],
        accessories=["charging dock", "spare band", "screen protectors"],
        consumables=["bands", "charging cable", "screen protectors"],
        specs=["does it have built in gps", "is it waterproof enough to swim laps", "does it track sleep",
               "can it show text messages", "how long does the battery go between charges", "does it do spo2",
               "can you reply to texts from it"],
        materials=["silicone", "stainless steel", "nylon", "aluminum"],
        fits=["an iphone", "an android phone", "strava", "google fit", "apple health"],
        rivals=["a fitbit charge 6", "the apple watch se", "garmin forerunner 55"],
        uses=["swimming", "a 7 year old", "marathon training", "nurses on long shifts", "an older person"],
        defects=["the band broke at the pin", "screen went black and wont wake up", "heart rate reads way too high",
                 "it doesnt count steps anymore", "the clasp keeps popping open"],
        owner_howtos=["change the watch face", "turn off the hourly vibration", "set an alarm on it",
                      "sync it to the app manually"],
        setups=["connect it to the app", "set the time on it"],
    ),
    "camera": _c(
        "power display lights wireless",
        items=["Mirrorless Camera Kit 24MP", "4K Action Camera", "Wifi Security Camera"],
        nouns=["camera", "cam"],
        parts=["lens", "shutter button", "battery door", "sd card slot", "mount", "night vision"],
        accessories=["sd card", "mounting kit", "lens cap", "spare battery"],
        consumables=["batteries", "sd card", "lens cap"],
        specs=["does it shoot 4k 60", "does it have image stabilization", "is there a mic input",
               "does it record continuously or only on motion", "what is the field of view",
               "does it need a subscription for recording"],
        materials=["metal", "plastic"],
        fits=["a standard tripod", "canon ef lenses", "a 256gb card", "alexa show", "2.4ghz wifi only"],
        rivals=["a gopro hero 11", "the sony a6400", "the ring stick up cam"],
        uses=["youtube videos", "watching the front porch", "snorkeling", "a baby monitor", "wildlife at night"],
        defects=["the battery door latch broke", "pictures come out blurry on auto", "lens fogs up inside",
                 "video cuts off after 20 minutes", "night mode picture is all white"],
        owner_howtos=["format the card in camera", "turn off the beeping", "change the recording resolution"],
        setups=["get it on the wifi", "mount it upside down and flip the image"],
    ),
    "printer": _c(
        "power display lights wireless assembly",
        items=["All-in-One Inkjet Printer", "Wireless Laser Printer", "Portable Photo Printer"],
        nouns=["printer"],
        parts=["paper tray", "scanner lid", "print head", "output tray", "feeder"],
        accessories=["starter cartridges", "usb cable", "power cord"],
        consumables=["ink cartridges", "toner", "photo paper", "drum unit"],
        specs=["does it print double sided on its own", "how many pages per minute", "can it scan to email",
               "does it have a fax", "does it print on cardstock", "is there an adf for scanning"],
        materials=["plastic", "metal frame"],
        fits=["a chromebook", "a mac", "generic ink", "airprint", "windows 11"],
        rivals=["the brother hl-l2350", "the hp 4155", "the canon pixma"],
        uses=["a small home office", "printing shipping labels", "school work", "photos"],
        defects=["prints have streaks down the page", "paper jams every few sheets", "it prints blank pages",
                 "scanner lid hinge came apart", "colors come out wrong even with new ink"],
        owner_howtos=["clean the print head", "print a test page", "turn off the sleep mode"],
        setups=["connect it to the new router", "install the driver on a mac"],
    ),
    "monitor": _c(
        "power lights display",
        items=["27-inch 4K Monitor", "Curved Gaming Monitor 165Hz", "Portable USB-C Monitor"],
        nouns=["monitor"],
        parts=["stand", "hdmi port", "power button", "panel", "joystick button"],
        accessories=["hdmi cable", "displayport cable", "stand", "power brick"],
        consumables=["hdmi cable", "power brick"],
        specs=["what is the refresh rate", "is it ips or va", "does it have built in speakers", "is it vesa mountable",
               "does it support hdr", "can it rotate to portrait", "is there a usb-c input with power delivery"],
        materials=["plastic", "metal"],
        fits=["a macbook pro", "a ps5", "a nintendo switch", "a vesa arm", "a 2015 desktop"],
        rivals=["the lg ultragear", "the dell s2721", "the 32 inch version"],
        uses=["photo editing", "competitive gaming", "spreadsheets all day", "a second screen for travel"],
        defects=["has a line of dead pixels across the middle", "backlight bleeds in the corners",
                 "it goes black for a second every few minutes", "the stand wobbles when i type"],
        owner_howtos=["turn on freesync", "get 165hz to show up", "lock the menu buttons"],
        setups=["attach the stand", "get it to detect the second input"],
    ),
    "keyboard": _c(
        "power lights wireless",
        items=["Mechanical Gaming Keyboard", "Wireless Slim Keyboard and Mouse", "Ergonomic Split Keyboard"],
        nouns=["keyboard", "keyboard and mouse"],
        parts=["keycaps", "space bar", "usb receiver", "switches", "feet", "scroll wheel"],
        accessories=["wrist rest", "keycap puller", "usb receiver"],
        consumables=["keycaps", "aa batteries", "switches"],
        specs=["are the switches hot swappable", "is it full size with a numpad", "what switches are in it",
               "is the backlight rgb", "is the layout us or uk", "does it have media keys"],
        materials=["abs", "pbt", "aluminum"],
        fits=["a mac", "an ipad", "a ps4", "a linux box"],
        rivals=["logitech mx keys", "the k380", "a razer blackwidow"],
        uses=["typing all day", "someone with wrist pain", "gaming", "coding"],
        defects=["some keys type twice", "the space bar sticks", "receiver stopped working",
                 "scroll wheel jumps around", "backlight went out on half the keys"],
        owner_howtos=["change the light color", "switch the fn keys", "swap the keycaps"],
        setups=["connect it to the second device"],
    ),
    "tv": _c(
        "power lights display wireless assembly",
        items=["55-inch 4K Smart TV", "32-inch HD Roku TV", "65-inch QLED TV"],
        nouns=["tv", "television"],
        parts=["remote", "hdmi port", "stand legs", "screen", "speakers"],
        accessories=["remote", "stand screws", "wall mount"],
        consumables=["remote", "aaa batteries"],
        specs=["how many hdmi ports", "is it 120hz", "does it have dolby vision", "is there an optical out",
               "does it have chromecast built in", "what is the vesa pattern", "does it have a headphone output"],
        materials=["plastic", "metal"],
        fits=["a vesa 300x300 mount", "a soundbar with arc", "an xbox series x", "a cable box"],
        rivals=["the tcl 6 series", "the samsung q60", "the 50 inch version"],
        uses=["a bright living room", "gaming", "a bedroom", "an rv"],
        defects=["there is a dark spot in the middle of the picture", "it keeps rebooting on its own",
                 "the remote doesnt do anything", "picture has lines across it", "apps freeze all the time"],
        owner_howtos=["turn off motion smoothing", "get the sound out of the soundbar", "turn off the store demo mode"],
        setups=["attach the feet", "connect it to the wifi"],
    ),
    "blender": _c(
        "power motor smell food",
        items=["High-Speed Blender 64oz", "Personal Smoothie Blender", "Immersion Hand Blender"],
        nouns=["blender"],
        parts=["blade", "jar", "lid", "motor base", "gasket", "pitcher"],
        accessories=["travel cup", "tamper", "to-go lids"],
        consumables=["blade assembly", "gasket", "cups"],
        specs=["how many watts", "can it crush ice", "how many ounces is the pitcher", "does it have presets",
               "can it make nut butter", "is the jar glass or plastic"],
        materials=["glass", "tritan", "stainless steel", "plastic"],
        fits=["a wide mouth mason jar", "the ninja cups", "under a 16 inch cabinet"],
        rivals=["a vitamix", "the ninja professional", "the nutribullet pro"],
        uses=["frozen fruit smoothies", "baby food", "soups", "protein shakes every morning"],
        defects=["leaks from under the blade", "the blade stopped spinning", "jar cracked near the handle",
                 "motor shuts off after a few seconds", "lid latch broke"],
        owner_howtos=["get it to blend frozen stuff without adding a ton of liquid",
                      "get the blade off to clean it"],
        setups=["lock the jar onto the base"],
    ),
    "coffee maker": _c(
        "power lights water smell display food",
        items=["12-Cup Programmable Coffee Maker", "Single Serve Pod Brewer", "Espresso Machine with Frother"],
        nouns=["coffee maker", "brewer", "espresso machine"],
        parts=["carafe", "water tank", "filter basket", "steam wand", "drip tray", "pod holder"],
        accessories=["reusable filter", "milk pitcher", "tamper", "measuring scoop"],
        consumables=["water filters", "carafe", "paper filters", "descaling solution"],
        specs=["how hot does the coffee get", "is there a timer to brew in the morning", "does it take k cups",
               "how many cups does the carafe make", "does it have a keep warm plate", "what pressure is the pump"],
        materials=["glass", "stainless steel", "plastic"],
        fits=["k cup pods", "nespresso pods", "ground coffee", "a travel mug"],
        rivals=["the breville bambino", "a keurig k-elite", "the mr coffee one"],
        uses=["a small office", "a dorm", "making lattes", "one person"],
        defects=["the carafe drips when pouring", "coffee comes out lukewarm", "it only brews half a cup",
                 "water tank leaks onto the counter", "steam wand barely puts out steam"],
        owner_howtos=["make the coffee stronger", "turn off the auto shutoff", "froth milk with the wand"],
        setups=["set the brew timer", "prime the pump the first time"],
    ),
    "air fryer": _c(
        "power lights display smell food",
        items=["5.8 Quart Air Fryer", "Air Fryer Toaster Oven", "Dual Basket Air Fryer"],
        nouns=["air fryer", "fryer", "oven"],
        parts=["basket", "crisper plate", "heating element", "control panel", "drawer"],
        accessories=["recipe book", "rack", "skewers"],
        consumables=["parchment liners", "crisper plate", "basket"],
        specs=["how many quarts", "what temperature range", "does it have a window", "does it preheat",
               "is the basket coated", "can it dehydrate"],
        materials=["ceramic", "stainless steel", "nonstick"],
        fits=["a 6 inch cake pan", "a whole chicken", "a 12 inch pizza", "under upper cabinets"],
        rivals=["the ninja foodi", "the cosori 5.8", "the instant vortex"],
        uses=["a family of five", "one person", "frozen foods", "keto cooking"],
        defects=["the coating is coming off the basket", "the fan stopped but the heat is on",
                 "the drawer wont slide back in", "the display went blank mid cook"],
        owner_howtos=["cook frozen wings", "reheat pizza in it", "turn off the beep"],
        setups=["burn off the new smell the first time"],
    ),
    "kettle": _c(
        "power lights water",
        items=["Electric Glass Kettle 1.7L", "Gooseneck Pour Over Kettle", "Travel Electric Kettle"],
        nouns=["kettle"],
        parts=["lid", "spout", "base", "handle", "switch"],
        accessories=["base", "tea infuser"],
        consumables=["limescale filter", "base"],
        specs=["does it have temperature control", "how fast does it boil", "is it cordless from the base",
               "does it keep warm", "how many liters"],
        materials=["glass", "stainless steel", "bpa free plastic"],
        fits=["240v outlets", "a hotel room"],
        rivals=["the fellow stagg", "the cuisinart one", "the bonavita"],
        uses=["pour over coffee", "tea", "an office", "a camper"],
        defects=["lid wont stay shut", "water tastes like plastic", "rust spots inside the bottom",
                 "it switches off before it boils"],
        owner_howtos=["set it to 185 degrees", "get the lid open with one hand"],
        setups=["change it from celsius"],
    ),
    "vacuum": _c(
        "power lights motor smell",
        items=["Cordless Stick Vacuum", "Robot Vacuum and Mop", "Bagless Upright Vacuum"],
        nouns=["vacuum", "robot", "vac"],
        parts=["brush roll", "dust bin", "filter", "battery", "side brush", "wheels", "charging dock"],
        accessories=["crevice tool", "wall mount", "extra filter", "mop pad"],
        consumables=["filters", "side brushes", "batteries", "belts", "mop pads"],
        specs=["how long does it run on max", "does it work on thick carpet", "does it map the house",
               "how big is the dust bin", "is it good with long hair", "does it have a hepa filter"],
        materials=["plastic", "metal"],
        fits=["hardwood floors", "alexa", "stairs", "a 2 story house"],
        rivals=["a dyson v8", "the roomba 694", "the shark navigator"],
        uses=["pet hair", "a small apartment", "cars", "people with allergies"],
        defects=["hair wraps around the brush roll constantly", "suction dropped off", "it gets stuck under the couch",
                 "battery only lasts 5 minutes now", "the side brush stopped spinning"],
        owner_howtos=["set up no go zones", "empty the bin without dust going everywhere"],
        setups=["get it on the app", "put the wand together"],
    ),
    "mattress": _c(
        "smell",
        items=["Queen Memory Foam Mattress 12 inch", "Hybrid Spring Mattress", "Twin Mattress Topper"],
        nouns=["mattress", "topper", "bed"],
        parts=["cover", "foam layer", "edges", "zipper", "corner"],
        accessories=["mattress protector", "pillows"],
        consumables=["cover", "mattress protector"],
        specs=["how firm is it on a 1 to 10", "does it sleep hot", "how thick is it", "does it have edge support",
               "is it ok for side sleepers", "is there a trial period"],
        materials=["memory foam", "latex", "coils", "gel foam"],
        fits=["an adjustable base", "a bunk bed", "a platform frame", "a daybed"],
        rivals=["a purple mattress", "the casper", "the 10 inch version"],
        uses=["a heavy person", "back pain", "a guest room", "a kid"],
        defects=["there is a dip where i sleep", "it never fully expanded on one side",
                 "the cover zipper split", "the edges sag"],
        owner_howtos=["get it to expand faster", "rotate it"],
        setups=["unroll it"],
    ),
    "sofa": _c(
        "assembly smell",
        items=["3-Seat Fabric Sofa", "Sleeper Sofa Bed", "Leather Loveseat Recliner"],
        nouns=["sofa", "couch", "loveseat"],
        parts=["cushions", "legs", "armrest", "recliner handle", "back cushion", "frame"],
        accessories=["legs", "hardware bag", "throw pillows"],
        consumables=["cushion covers", "legs"],
        specs=["what is the seat depth", "how high is the back", "are the cushions reversible",
               "how much weight can it hold", "does it come in more colors", "is the fabric pet friendly"],
        materials=["velvet", "linen", "faux leather", "bonded leather", "solid wood"],
        fits=["through a 30 inch door", "a small apartment", "an rv"],
        rivals=["the ikea kivik", "the burrow one", "the bigger sectional"],
        uses=["a family with dogs", "tall people", "napping", "a studio apartment"],
        defects=["one leg is shorter so it rocks", "the seat cushions went flat", "fabric is pilling",
                 "the frame creaks when you sit", "recliner handle snapped"],
        owner_howtos=["keep the cushions from sliding", "pull out the bed part"],
        setups=["attach the arms", "screw in the legs"],
    ),
    "office chair": _c(
        "assembly",
        items=["Ergonomic Mesh Office Chair", "Gaming Chair with Footrest", "Drafting Stool"],
        nouns=["chair", "stool"],
        parts=["gas cylinder", "armrests", "casters", "backrest", "seat cushion", "headrest", "tilt knob"],
        accessories=["headrest", "lumbar pillow", "hardware"],
        consumables=["casters", "gas cylinder", "seat cushion"],
        specs=["what is the weight limit", "how high does the seat go", "do the arms flip up",
               "is the lumbar adjustable", "does it recline all the way", "how wide is the seat"],
        materials=["mesh", "pu leather", "fabric", "metal base"],
        fits=["under a 28 inch desk", "hardwood floors", "a standing desk"],
        rivals=["a herman miller aeron", "the steelcase series 1", "the amazon basics one"],
        uses=["someone 6'4", "a petite person", "long gaming sessions", "sciatica"],
        defects=["the seat slowly sinks", "an armrest cracked", "it leans to one side", "a caster snapped off",
                 "squeaks whenever i lean back"],
        owner_howtos=["lock the recline", "make it tilt easier"],
        setups=["attach the backrest", "put the arms on"],
    ),
    "drill": _c(
        "power lights motor",
        items=["20V Cordless Drill Driver", "Hammer Drill Kit", "Compact Impact Driver"],
        nouns=["drill", "impact driver", "driver"],
        parts=["chuck", "battery", "trigger", "clutch", "led light", "belt clip"],
        accessories=["drill bits", "second battery", "charger", "carrying case"],
        consumables=["batteries", "charger", "bits", "carbon brushes"],
        specs=["how much torque", "is it brushless", "what size is the chuck", "what is the rpm",
               "is there a hammer mode", "how long does the battery take to charge"],
        materials=["metal gearbox", "plastic housing"],
        fits=["dewalt 20v batteries", "milwaukee m18 packs", "masonry bits", "hex shank bits"],
        rivals=["the dewalt dcd771", "the ryobi one+", "a milwaukee m18 fuel"],
        uses=["hanging shelves", "driving deck screws", "drilling into brick", "a first home toolbox"],
        defects=["chuck wont hold the bit tight", "battery wont charge", "trigger sticks on",
                 "the clutch slips on every setting", "charger light just blinks"],
        owner_howtos=["get a bit out that is stuck", "set the clutch for small screws"],
        setups=["put the side handle on"],
    ),
    "lawn mower": _c(
        "power motor smell",
        items=["Cordless Electric Lawn Mower 40V", "Self-Propelled Gas Mower", "Reel Push Mower"],
        nouns=["mower", "lawn mower"],
        parts=["blade", "grass bag", "wheels", "handle", "pull cord", "deck"],
        accessories=["grass catcher", "mulching plug", "battery", "charger"],
        consumables=["blades", "spark plug", "air filter", "oil", "batteries"],
        specs=["how wide is the cut", "how many cutting heights", "is it self propelled", "does it mulch",
               "how long does the battery last per charge", "how heavy is it"],
        materials=["steel deck", "plastic deck"],
        fits=["a half acre", "a hilly yard", "a small townhouse lawn"],
        rivals=["the ego 21 inch", "a honda hrn", "the greenworks 40v"],
        uses=["thick st augustine grass", "an older person", "a slope"],
        defects=["it wont start after sitting", "the pull cord snapped", "blade stopped spinning",
                 "it leaves strips of uncut grass", "a wheel fell off"],
        owner_howtos=["raise the cutting height", "sharpen the blade"],
        setups=["unfold the handle", "attach the bag"],
    ),
    "running shoes": _c(
        "wearable smell",
        items=["Men's Trail Running Shoes", "Women's Road Running Shoes", "Kids Light Up Sneakers"],
        nouns=["shoes", "sneakers", "trainers"],
        parts=["sole", "laces", "insole", "heel", "toe box", "tongue"],
        accessories=["extra laces", "shoe bag"],
        consumables=["insoles", "laces"],
        specs=["how much drop do they have", "are they wide in the toe box", "are they waterproof",
               "do they have good arch support", "how much do they weigh", "can you put orthotics in them"],
        materials=["mesh", "knit", "leather", "rubber"],
        fits=["custom orthotics", "wide feet", "narrow heels"],
        rivals=["the brooks ghost", "the hoka clifton", "the nike pegasus"],
        uses=["plantar fasciitis", "standing all day at work", "trail running", "a nurse"],
        defects=["the sole is peeling at the toe", "they squeak with every step", "the heel wore through",
                 "the mesh tore by my pinky toe", "lights stopped working on one shoe"],
        owner_howtos=["lace them so my heel doesnt slip", "clean the mesh"],
        setups=[],
    ),
    "jeans": _c(
        "wearable fabric",
        items=["Men's Slim Fit Jeans", "Women's High Rise Skinny Jeans", "Relaxed Fit Work Jeans"],
        nouns=["jeans", "pants"],
        parts=["zipper", "top button", "belt loops", "seams", "pockets", "waistband"],
        accessories=["extra button"],
        consumables=["buttons"],
        specs=["what is the rise", "how much stretch do they have", "is the inseam hemmed",
               "do they come in a short length", "are the front pockets deep"],
        materials=["cotton", "denim with spandex", "polyester"],
        fits=["boots", "athletic thighs"],
        rivals=["levis 511", "the wrangler ones", "the curvy fit version"],
        uses=["work on a ranch", "someone 5'2", "pear shaped body", "a tall guy"],
        defects=["the button popped off", "zipper wont stay up", "the crotch seam split", "belt loop tore off",
                 "color rubbed off on my couch"],
        owner_howtos=["keep them from bagging out at the knees"],
        setups=[],
    ),
    "jacket": _c(
        "wearable fabric",
        items=["Men's Waterproof Rain Jacket", "Women's Puffer Jacket", "Kids Fleece Jacket"],
        nouns=["jacket", "coat", "fleece"],
        parts=["zipper", "hood", "cuffs", "lining", "pockets", "drawstring"],
        accessories=["stuff sack", "detachable hood"],
        consumables=["zipper pull"],
        specs=["is it warm enough for below freezing", "is the hood removable", "does it pack into its pocket",
               "are the pockets zippered", "is it fully waterproof or water resistant", "how long is it"],
        materials=["down", "synthetic fill", "nylon", "fleece", "polyester"],
        fits=["a hoodie underneath", "broad shoulders"],
        rivals=["the north face venture", "the columbia one", "the patagonia nano puff"],
        uses=["skiing", "chicago winters", "hiking in the rain", "a teenager"],
        defects=["the zipper separates from the bottom", "feathers keep poking through", "the hood seam leaks",
                 "the lining ripped in the sleeve", "the drawstring pulled out"],
        owner_howtos=["wash it without ruining the down", "stuff it back into the pocket"],
        setups=[],
    ),
    "backpack": _c(
        "",
        items=["Travel Laptop Backpack", "Hiking Daypack 30L", "Kids School Backpack"],
        nouns=["backpack", "daypack"],
        parts=["zipper", "shoulder strap", "laptop sleeve", "side pocket", "hip belt", "usb port"],
        accessories=["rain cover", "luggage strap"],
        consumables=["zipper pulls"],
        specs=["how many liters", "will it count as a personal item", "does it open flat for tsa",
               "is the bottom waterproof", "is there a chest strap", "how big is the laptop pocket"],
        materials=["nylon", "polyester", "canvas", "ripstop"],
        fits=["a 17 inch laptop", "under an airplane seat", "a hydration bladder", "a large water bottle"],
        rivals=["the osprey daylite", "a jansport", "the matein one"],
        uses=["a week of travel", "a 1st grader", "day hikes", "a college student"],
        defects=["a strap came unstitched", "the zipper pull broke off", "the bottom wore a hole",
                 "the side pocket ripped"],
        owner_howtos=["fit my water bottle in the side", "use the usb port"],
        setups=[],
    ),
    "tent": _c(
        "assembly smell",
        items=["4-Person Camping Tent", "Ultralight Backpacking Tent", "Instant Pop-Up Canopy"],
        nouns=["tent", "canopy"],
        parts=["rain fly", "zipper", "poles", "stakes", "floor", "vents", "door"],
        accessories=["footprint", "stakes", "carry bag", "guy lines"],
        consumables=["stakes", "pole sections", "guy lines"],
        specs=["how tall is it inside", "what is the packed size", "how much does it weigh",
               "is it freestanding", "how many doors", "what is the hydrostatic head rating"],
        materials=["polyester", "nylon", "aluminum poles", "fiberglass poles"],
        fits=["a queen air mattress", "two cots", "a truck bed"],
        rivals=["the coleman sundome", "the big agnes copper spur", "the rei half dome"],
        uses=["a family of four", "windy beaches", "backpacking", "festivals"],
        defects=["a pole snapped in the wind", "water came through the floor", "the zipper split open",
                 "the seams leak at the corners"],
        owner_howtos=["roll it up small enough for the sack", "keep condensation down"],
        setups=["put the rain fly on", "set it up alone"],
    ),
    "bike": _c(
        "assembly",
        items=["Hybrid Bike 21 Speed", "Kids Bike 16 inch", "Electric Commuter Bike"],
        nouns=["bike", "bicycle", "ebike"],
        parts=["chain", "brakes", "derailleur", "seat", "tires", "kickstand", "handlebars"],
        accessories=["training wheels", "kickstand", "pedals", "charger"],
        consumables=["tubes", "brake pads", "chain", "tires"],
        specs=["what size frame", "what is the top speed", "how many gears", "what size tires",
               "how far does it go on a charge", "does it have disc brakes"],
        materials=["aluminum frame", "steel frame", "carbon fork"],
        fits=["a bike rack with a top tube", "a rider 5'4", "a child seat"],
        rivals=["the schwinn one", "the trek fx", "the rad power city"],
        uses=["commuting to work", "a 5 year old", "gravel trails", "a heavier rider"],
        defects=["the chain keeps falling off", "brakes rub the wheel", "gears skip under load",
                 "the kickstand bent", "the tire wont hold air"],
        owner_howtos=["adjust the brakes", "raise the seat"],
        setups=["put the front wheel on", "attach the handlebars"],
    ),
    "yoga mat": _c(
        "smell",
        items=["Extra Thick Yoga Mat", "Non-Slip Travel Yoga Mat", "Cork Yoga Mat"],
        nouns=["mat", "yoga mat"],
        parts=["surface", "edges", "strap", "alignment lines"],
        accessories=["carrying strap", "bag"],
        consumables=["strap"],
        specs=["how thick is it", "how long is it", "is it slippery when you sweat", "is it latex free",
               "how heavy is it to carry"],
        materials=["tpe", "pvc", "natural rubber", "cork"],
        fits=["a carpeted floor", "a yoga bag"],
        rivals=["a manduka pro", "the lululemon mat", "the gaiam one"],
        uses=["hot yoga", "someone tall", "bad knees", "pilates"],
        defects=["the edges curl up", "it is shedding little bits", "it tears where my hands go",
                 "it stays slippery"],
        owner_howtos=["get it to lie flat", "clean it after hot yoga"],
        setups=[],
    ),
    "dog food": _c(
        "smell edible",
        items=["Grain-Free Dog Food 30lb", "Puppy Kibble Chicken", "Senior Dog Wet Food 12 Pack"],
        nouns=["dog food", "kibble"],
        parts=["bag seal", "bag", "can lid", "zip closure"],
        accessories=["scoop", "sample pack"],
        consumables=["bag"],
        specs=["how many calories per cup", "what is the protein percentage", "is it made in the usa",
               "does it have chicken in it", "how big are the pieces", "is it aafco approved"],
        materials=["chicken", "salmon", "peas"],
        fits=["a 10 lb chihuahua", "a great dane puppy", "a dog with a sensitive stomach"],
        rivals=["blue buffalo", "purina pro plan", "the salmon formula"],
        uses=["an allergic lab", "weight loss", "a picky eater", "a pregnant dog"],
        defects=["the bag was ripped open", "kibble is stale and crumbly", "there were bugs in the bag",
                 "it smells different from the last bag"],
        owner_howtos=["switch over from the old food", "figure out how much to feed"],
        setups=[],
    ),
    "cat litter box": _c(
        "power lights motor smell assembly",
        items=["Self-Cleaning Litter Box", "Covered Cat Litter Box", "Top Entry Litter Box"],
        nouns=["litter box"],
        parts=["lid", "waste drawer", "rake", "sensor", "door flap", "scoop"],
        accessories=["scoop", "liners", "carbon filter"],
        consumables=["liners", "carbon filters", "waste bags"],
        specs=["how big of a cat can fit", "does it work with clumping litter", "is the entry high",
               "does it work for two cats", "how often do you empty the drawer"],
        materials=["plastic", "stainless steel"],
        fits=["a maine coon", "pine pellets", "a small bathroom"],
        rivals=["the litter robot", "the petsafe scoopfree", "a regular pan"],
        uses=["two cats", "a senior cat", "a kitten"],
        defects=["the rake jams halfway", "litter leaks out the bottom seam", "the sensor goes off for no reason",
                 "the lid clips broke"],
        owner_howtos=["get my cat to go in it", "change the cycle delay"],
        setups=["put the lid on"],
    ),
    "face cream": _c(
        "smell",
        items=["Daily Moisturizer SPF 30", "Retinol Night Cream", "Sensitive Skin Face Cream"],
        nouns=["cream", "moisturizer", "lotion"],
        parts=["pump", "jar lid", "seal", "tube"],
        accessories=["spatula", "travel size"],
        consumables=["refill pod"],
        specs=["is it fragrance free", "is it non comedogenic", "what percent retinol", "is it reef safe",
               "how many ounces", "does it leave a white cast"],
        materials=["hyaluronic acid", "ceramides", "shea butter"],
        fits=["under makeup", "an oily t zone"],
        rivals=["cerave pm", "the olay one", "neutrogena hydro boost"],
        uses=["rosacea", "acne prone skin", "a teenager", "dry winter skin"],
        defects=["the pump stopped pumping", "it separated and looks watery", "it made me break out",
                 "jar arrived with no seal"],
        owner_howtos=["use it with vitamin c", "get the last bit out"],
        setups=[],
    ),
    "electric toothbrush": _c(
        "power lights water",
        items=["Sonic Electric Toothbrush", "Rechargeable Kids Toothbrush", "Water Flosser Cordless"],
        nouns=["toothbrush", "flosser"],
        parts=["brush head", "handle", "charging base", "tank", "nozzle"],
        accessories=["travel case", "extra heads", "charger"],
        consumables=["brush heads", "flosser tips", "charger"],
        specs=["how many modes", "does it have a 2 minute timer", "how long does a charge last",
               "does it have a pressure sensor", "how big is the water tank"],
        materials=["plastic", "silicone"],
        fits=["oral b heads", "braces", "220v for travel"],
        rivals=["the sonicare 4100", "an oral b io", "a waterpik"],
        uses=["sensitive gums", "a 6 year old", "braces"],
        defects=["it wont hold a charge", "the head rattles", "water leaks from the handle", "it stopped vibrating"],
        owner_howtos=["turn off the quad timer", "change the mode"],
        setups=[],
    ),
    "stroller": _c(
        "assembly",
        items=["Lightweight Travel Stroller", "Jogging Stroller", "Double Stroller Side by Side"],
        nouns=["stroller"],
        parts=["wheels", "canopy", "basket", "brake", "harness", "handlebar", "fold latch"],
        accessories=["rain cover", "cup holder", "car seat adapter"],
        consumables=["tires", "cup holder"],
        specs=["how much does it weigh", "does it fold with one hand", "does it recline flat",
               "what is the weight limit", "how big is the basket", "does the front wheel lock"],
        materials=["aluminum", "polyester"],
        fits=["a chicco keyfit car seat", "a small trunk", "an overhead bin"],
        rivals=["the uppababy minu", "the bob revolution", "the graco modes"],
        uses=["a newborn", "jogging", "disney trips", "a tall parent"],
        defects=["a wheel keeps wobbling", "the canopy snapped", "the brake doesnt hold on a hill",
                 "the fold latch sticks"],
        owner_howtos=["fold it without pinching my fingers", "take the seat cover off"],
        setups=["attach the front wheels", "put the canopy on"],
    ),
    "building toy": _c(
        "",
        items=["Building Blocks Set 1000 Pieces", "Magnetic Tiles Set", "Marble Run Kit"],
        nouns=["building set", "blocks", "tiles"],
        parts=["pieces", "base plate", "magnets", "tracks"],
        accessories=["storage bin", "instruction booklet"],
        consumables=["pieces"],
        specs=["how many pieces", "what age is it for", "does it work with lego", "are the magnets strong",
               "does it come with a storage box"],
        materials=["abs plastic", "wood"],
        fits=["lego duplo", "magna tiles"],
        rivals=["magna tiles", "real lego", "picasso tiles"],
        uses=["a 4 year old", "a classroom", "a kid with autism"],
        defects=["a magnet fell out of one tile", "pieces dont snap together", "some tiles cracked",
                 "half the pieces for step 12 are not there"],
        owner_howtos=["sort all the pieces"],
        setups=["start the build"],
    ),
    "rc car": _c(
        "power lights motor wireless",
        items=["Remote Control Car 4WD", "RC Monster Truck", "Kids RC Stunt Car"],
        nouns=["rc car", "rc truck"],
        parts=["remote", "battery", "wheels", "steering", "motor", "antenna"],
        accessories=["extra battery", "usb charger", "spare tires"],
        consumables=["batteries", "tires", "usb charger"],
        specs=["how fast does it go", "how long does the battery last", "what is the remote range",
               "is it waterproof", "what scale is it"],
        materials=["plastic", "metal chassis"],
        fits=["grass and gravel", "indoor carpet"],
        rivals=["a traxxas", "the other stunt car", "a hot wheels rc"],
        uses=["an 8 year old", "a backyard", "a beginner"],
        defects=["it only turns left", "the remote stopped controlling it", "a wheel broke off",
                 "it dies after five minutes"],
        owner_howtos=["charge the battery", "adjust the steering trim"],
        setups=["sync the remote to the car"],
    ),
    "guitar": _c(
        "",
        items=["Acoustic Guitar Starter Pack", "Electric Guitar Kit with Amp", "Classical Nylon Guitar"],
        nouns=["guitar"],
        parts=["tuning pegs", "strings", "neck", "pickup", "bridge", "frets"],
        accessories=["gig bag", "tuner", "picks", "strap", "amp", "capo"],
        consumables=["strings", "picks", "tuner battery"],
        specs=["is the top solid wood", "what is the scale length", "is it full size", "does it have a pickup",
               "is it left handed"],
        materials=["spruce", "mahogany", "laminate", "rosewood"],
        fits=["a 12 year old", "small hands"],
        rivals=["a yamaha fg800", "the fender cd60", "a squier strat"],
        uses=["a total beginner", "a kid", "a classroom"],
        defects=["the strings buzz on the frets", "it wont stay in tune", "the bridge is lifting",
                 "the input jack crackles"],
        owner_howtos=["change the strings", "lower the action"],
        setups=["tune it"],
    ),
    "water bottle": _c(
        "",
        items=["Insulated Water Bottle 32oz", "Kids Water Bottle with Straw", "Glass Water Bottle"],
        nouns=["bottle", "water bottle", "tumbler"],
        parts=["lid", "straw", "gasket", "handle", "spout", "sleeve"],
        accessories=["straw lid", "cleaning brush", "boot"],
        consumables=["straws", "gaskets", "lids"],
        specs=["how long does it keep water cold", "is the lid leak proof", "does it fit in a cup holder",
               "how many ounces", "is it safe for hot drinks"],
        materials=["stainless steel", "glass", "tritan"],
        fits=["a car cup holder", "a bike bottle cage", "a backpack side pocket"],
        rivals=["a hydro flask", "the yeti rambler", "an owala"],
        uses=["a kindergartner", "the gym", "hiking"],
        defects=["the lid leaks when i tip it", "the paint is flaking off", "it stopped keeping stuff cold",
                 "the straw bit tore"],
        owner_howtos=["get the gasket out", "get the smell out"],
        setups=[],
    ),
    "car parts": _c(
        "",
        items=["Front Ceramic Brake Pads", "Beam Wiper Blades Pair", "All Weather Floor Mats"],
        nouns=["pads", "wipers", "floor mats"],
        parts=["clips", "hardware", "wear indicator", "adapter", "edges"],
        accessories=["hardware kit", "adapters", "clips"],
        consumables=["clips", "hardware kit"],
        specs=["are these ceramic", "do they come with the clips", "is this for the front or rear",
               "what sizes are included", "do they have a lifetime warranty"],
        materials=["ceramic", "semi metallic", "rubber", "tpe"],
        fits=["a 2016 honda accord", "a 2012 toyota tacoma", "a 2019 jeep wrangler", "a 2015 chevy equinox",
              "a 2020 subaru outback"],
        rivals=["the bosch ones", "the weathertech mats", "the oem ones"],
        uses=["towing", "snowy winters", "a daily driver"],
        defects=["the pads squeal every stop", "the wipers streak", "the mats slide around",
                 "the adapter doesnt clip in"],
        owner_howtos=["bed in the pads", "get the old wiper arm adapter off"],
        setups=["install them"],
    ),
    "cookware": _c(
        "food smell",
        items=["Nonstick Frying Pan 12 inch", "Cast Iron Skillet", "Stainless Steel Cookware Set 10 Piece"],
        nouns=["pan", "skillet", "pots"],
        parts=["handle", "lid", "coating", "rivets", "base"],
        accessories=["lids", "pot protectors"],
        consumables=["lids"],
        specs=["is it induction compatible", "is it oven safe and to what temperature", "is it ptfe free",
               "how heavy is it", "what pieces come in the set"],
        materials=["cast iron", "stainless steel", "ceramic nonstick", "hard anodized aluminum"],
        fits=["an induction cooktop", "a glass top stove", "a 12 inch burner"],
        rivals=["all clad", "a lodge skillet", "the tfal set"],
        uses=["eggs", "a beginner cook", "searing steak"],
        defects=["eggs stick now", "the handle got loose", "the bottom warped", "the coating is scratched up",
                 "there are rust spots"],
        owner_howtos=["season it", "get the burnt stuff off the bottom"],
        setups=[],
    ),
    "bed sheets": _c(
        "fabric",
        items=["Queen Microfiber Sheet Set", "Bamboo Sheets King", "Flannel Sheet Set Twin"],
        nouns=["sheets", "sheet set"],
        parts=["fitted sheet", "elastic", "pillowcases", "flat sheet", "corners"],
        accessories=["pillowcases"],
        consumables=["pillowcases"],
        specs=["how deep are the pockets", "what thread count", "do they sleep cool", "are they soft right away",
               "do the pillowcases have an envelope end"],
        materials=["cotton", "bamboo", "microfiber", "linen", "flannel"],
        fits=["an 18 inch mattress", "a split king", "a crib"],
        rivals=["the brooklinen ones", "the mellanni set", "the california design den sheets"],
        uses=["hot sleepers", "a kid", "a guest room"],
        defects=["the fitted sheet pops off the corners", "they pill", "the elastic snapped",
                 "the color bled onto the white pillowcase"],
        owner_howtos=["keep the fitted sheet on"],
        setups=[],
    ),
    "lamp": _c(
        "power lights",
        items=["LED Desk Lamp with USB Port", "Floor Lamp Arc", "Smart Table Lamp"],
        nouns=["lamp"],
        parts=["switch", "shade", "base", "arm", "dimmer", "usb port"],
        accessories=["bulb", "shade", "adapter"],
        consumables=["bulbs", "adapter"],
        specs=["how bright is it", "is it dimmable", "what color temperature", "how tall is it",
               "does it work with google home"],
        materials=["metal", "linen shade", "wood", "glass"],
        fits=["a nightstand", "a reading corner", "e26 bulbs"],
        rivals=["the benq lamp", "the ikea one", "the taotronics lamp"],
        uses=["reading", "drawing", "a dorm desk"],
        defects=["it flickers on low", "the arm droops", "the switch broke", "it buzzes when dimmed"],
        owner_howtos=["set a timer on it", "change the bulb"],
        setups=["attach the shade"],
    ),
}

# --- Slots shared across categories -------------------------------------------------------------------------

TIMES = ["after {n} {unit}", "after {n} {unit}", "within a week", "the first time", "on day {n}", "already",
         "right out of the box", "after a couple uses", "", "", ""]
UNITS = [("day", "days"), ("week", "weeks"), ("month", "months"), ("use", "uses")]
POST_TAILS = ["", "", "", "", " is this normal", " any fix", " what can i do", " is that covered", " anyone else",
              " how do i fix it", " can i get a new one", " help", " whats going on", " is mine defective",
              " any ideas", " what now", " has this happened to anyone", " is there a fix for this", " ugh"]
PRE_TAILS = ["", "", "", "", "", " thanks", " before i order", " trying to decide", " please", " anyone know",
             " need to know before buying", " for a gift", " thinking about getting 2", " the description doesnt say"]
CODES = ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9", "e10", "e21", "f1", "f3", "f05", "err 2", "p4",
         "h1", "c7", "e01", "e03"]
COLORS = ["red", "orange", "green", "blue", "white", "yellow", "purple", "amber"]
BLINKS = ["blinking", "flashing", "blinks", "flashes", "keeps blinking", "flashes twice"]
DEVICES = ["phone", "iphone", "android", "tablet", "ipad", "pc", "macbook", "samsung"]
NOISES = ["grinding", "clicking", "buzzing", "rattling", "squealing", "humming", "ticking", "whining", "knocking"]
SMELLS = ["burning", "burnt plastic", "chemicals", "rubber", "fish", "smoke", "mildew", "paint"]
PLACES = ["canada", "hawaii", "guam", "puerto rico", "the uk", "australia", "an apo address", "a po box",
          "germany", "mexico"]
DATES = ["christmas", "next friday", "the 15th", "my sons birthday", "thanksgiving", "the weekend"]
SIZES = ["small", "medium", "large", "xl", "2xl", "size 8", "size 10", "size 11", "32x30", "34x32", "size 7.5"]
BRANDS = ["nike", "old navy", "gap", "levis", "adidas", "target brands", "columbia", "new balance"]
HEIGHTS = ["5'2 and 120 lbs", "5'10 180", "6'1 and 210", "5'6 140lbs", "6'4 240", "5'0 105"]
RELATIVES = ["husband", "wife", "son", "daughter", "mom", "dad", "grandma", "roommate", "boyfriend"]
STORE_PLACES = ["the garage", "a shed", "the closet", "the basement", "the car", "an attic"]
STAINS = ["brown stains", "white residue", "black gunk", "a sticky film", "orange spots"]

# Kinds of question, each a list of templates; a kind whose trait the category lacks is never used.
POST_KINDS: dict[str, tuple[str, list[str]]] = {
    "defect": ("", [
        "{defect}", "{defect} {time}", "{defect}{post_tail}", "{defect} {time}{post_tail}",
        "the {part} {failure} {time}", "{part} {failure}{post_tail}", "my {part} {failure} {time}",
        "{defect} and its only been {n} {unit}", "so {defect}. {post_tail}",
    ]),
    "dead": ("power", [
        "wont turn on {time}", "stopped working {time}", "{noun} died {time}", "it just shuts off by itself",
        "no power at all{post_tail}", "turns on then immediately off", "stopped charging {time}",
        "it powers on but nothing else happens",
    ]),
    "code": ("display", [
        "{code} on the display", "{code} error", "showing {code}{post_tail}", "what does {code} mean",
        "it says {code} and stops", "keeps giving me {code}", "{code} code what do i do", "error {code} after {n} {unit}",
    ]),
    "light": ("lights", [
        "{color} light {blink}", "{color} light {blink} and nothing happens", "the {color} light wont go off",
        "light is {blink} {color}", "why is the light {color}", "{color} light stays on{post_tail}",
        "what does a {blink} {color} light mean",
    ]),
    "missing": ("", [
        "missing the {acc}", "no {acc} in the box", "box didnt include the {acc}", "came without {acc}",
        "{acc} was not in the package", "where is the {acc}{post_tail}", "mine came with no {acc}",
        "arrived with a cracked {part}", "arrived with a scratch on the {part}", "received a used one",
        "sent me the wrong color, ordered {color}", "the {acc} in my box is the wrong one",
    ]),
    "missing_screws": ("assembly", [
        "missing screws for the {part}", "a few bolts were missing", "holes for the {part} dont line up",
        "got two of the same piece and no {part}", "the allen wrench that came with it stripped",
    ]),
    "shrink": ("fabric", [
        "shrank {wash}", "{wash} it shrank a lot", "faded {wash}", "pilling {wash}", "too short now {wash}",
        "got way smaller {wash}{post_tail}",
    ]),
    "wear": ("wearable", [
        "stretched out after a few wears", "ordered a {size} and it fits like a size smaller, exchange?",
        "the {size} is way too tight, can i swap it", "fit fine at first now they are loose",
    ]),
    "noise": ("motor", [
        "makes a {noise} noise {when}", "{noise} sound {when}", "loud {noise} {when}{post_tail}",
        "started {noise} {time}", "its so much louder than it was",
    ]),
    "smell": ("smell", [
        "smells like {smell}", "{smell} smell {when}", "the smell wont go away", "strong {smell} odor{post_tail}",
        "how do i get rid of the {smell} smell",
    ]),
    "setup": ("setup", [
        "how do i {setup}", "how do you {setup}", "cant figure out how to {setup}", "trouble trying to {setup}",
        "instructions dont say how to {setup}", "{setup}?? how", "whats the trick to {setup}",
    ]),
    "pair": ("wireless", [
        "wont pair with my {device}", "how do i connect it to my {device}", "keeps dropping the connection",
        "my {device} doesnt see it", "how to pair it with a new {device}", "disconnects every few minutes",
        "connected once and now it wont", "how do i pair it again after a reset",
    ]),
    "reset": ("power", [
        "how do i reset it", "how do you do a hard reset on the {noun}", "where is the reset button on the {part}",
        "factory reset?", "reset didnt help{post_tail}", "how do i reset it to factory settings",
        "{defect}, does a reset fix that", "tried resetting {n} times{post_tail}", "how to reset it when {defect}",
    ]),
    "clean": ("-edible", [
        "how do you clean the {part}", "whats the best way to clean the {part}", "{stain} on the {part} how do i get it off",
        "{stain} inside the {noun}, how to clean", "what do you use to clean the {part}", "can i wash the {part}",
        "how often should the {part} be cleaned", "got {stain} after {n} {unit}, how to clean",
    ]),
    "descale": ("water", [
        "how often should i descale", "what do you use to descale it", "is vinegar ok to descale",
        "descale light keeps coming on", "how do i run the descale cycle", "white crust inside how to remove",
    ]),
    "spare": ("-edible", [
        "where do i buy replacement {cons}", "need new {cons}", "what {cons} fit this one", "part number for the {cons}",
        "where can i order more {cons}", "which {cons} should i get for mine", "do they sell the {cons} by themselves",
        "lost the {acc}, where can i get another",
    ]),
    "store": ("", [
        "how do you store it", "best way to store the {noun} when not using it", "ok to keep it in {store_place}",
        "can it stay in {store_place} over the winter", "how do i pack it away", "can i leave the {part} on when storing it",
        "storing it in {store_place} for {n} {unit}, anything i should do first", "does the {part} need to come off to store it",
    ]),
    "warranty": ("-edible", [
        "how do i file a warranty claim on the {noun}", "{defect}, is that covered under warranty",
        "who handles the warranty for {defect}",
        "warranty claim process? {defect}", "do i need the receipt for the warranty on the {part}",
        "contacted the seller about the warranty {n} {unit} ago and no reply",
        "is the warranty on the {part} through the seller or the maker",
    ]),
    "return": ("", [
        "how do i send it back", "return window closed {n} {unit} ago, what now", "can i return it without the box, {defect}",
        "want a refund, {defect}", "{defect}, how do i get a replacement sent", "return label for the {noun}?",
        "{defect}. return or warranty?", "how do i return the {noun}, {defect}",
    ]),
    "howto": ("", [
        "how do i {howto}", "how do you {howto}", "best way to {howto}", "any tips to {howto}",
        "what is the right way to {howto}", "trying to {howto}, help",
    ]),
}

PRE_KINDS: dict[str, tuple[str, list[str]]] = {
    "spec": ("", [
        "{spec}", "{spec}", "{spec}{pre_tail}", "quick q {spec}", "{spec} on this {noun}",
        "does anyone know {spec}", "{spec} - the listing doesnt say",
    ]),
    "dims": ("", [
        "what are the dimensions{of_noun}", "how tall is it", "how much does it weigh", "{noun} measurements?",
        "how big is the {noun} exactly", "dimensions of the {part}", "what are the measurements{of_noun} in inches",
        "how wide is it", "how wide is the {part}", "what are the {noun} dimensions {unit_system}",
        "how heavy is the {noun} with the {part}",
    ]),
    "material": ("", [
        "is it {material}", "is the {part} {material}", "what is the {part} made of", "is it {material} or {material2}",
        "what material is the {part}", "real {material}?", "is the {noun} {material} or {material2}",
    ]),
    "compat": ("", [
        "will it work with {fit}", "does it fit {fit}", "compatible with {fit}?", "anyone using this with {fit}",
        "i have {fit}, will it work", "would it work for {fit}",
    ]),
    "compare": ("", [
        "how does it compare to {rival}", "difference between this and {rival}", "is this better than {rival}",
        "this or {rival}", "worth it over {rival}", "is it the same as {rival}",
    ]),
    "box": ("", [
        "does it come with {acc}", "is the {acc} included", "what is included{with_noun}", "does the box include {acc}",
        "comes with {acc}?", "{acc} included or sold separately", "what all comes with it",
        "what comes in the {noun} box", "{acc} and {acc2} included?",
    ]),
    "ship": ("", [
        "do you ship to {place}", "how long to ship to {place}", "will it arrive before {date}",
        "can it ship to {place}", "does the {noun} come in plain packaging", "is shipping free{to_place}",
        "if i order today when will it get to {place}", "is the {noun} in stock to ship by {date}",
    ]),
    "size": ("wearable", [
        "i am {height}, what size", "do they run small or big", "normally a {size} in {brand}, which size",
        "what size for my {relative}, {height}", "should i size up", "is the {size} really a {size}",
        "does the {size} run big", "between sizes, go up or down",
    ]),
    "suit": ("", [
        "would it work for {use}", "is it good for {use}", "ok for {use}?", "looking for something for {use}, would this do",
        "my {relative} needs one for {use}, would this be ok", "good gift for my {relative}?", "recommended for {use}?",
    ]),
}

# The same words asked before and after buying; ``lean`` is how strongly the template belongs to the Post pool.
# How far it leans also depends on the product (see _tilted_lean): 'how long does the battery last' is a
# shopper's question about a gadget and an owner's about a tool, an interaction of words that a linear
# bag-of-words model cannot fit.
AMBIGUOUS: list[tuple[str, str, float]] = [
    ("how long does the {cons} last", "", 0.5),
    ("can the {part} be removed", "", 0.4),
    ("is it loud", "motor", 0.35),
    ("what size {cons} does it take", "", 0.55),
    ("does the {part} come off", "", 0.5),
    ("how do you {howto}", "", 0.7),
    ("is the {part} easy to clean", "", 0.3),
    ("does the {part} get hot", "power", 0.45),
    ("can you use other brand {cons}", "", 0.5),
    ("how long does the {noun} take to charge", "power", 0.5),
    ("where is the {noun} made", "", 0.3),
    ("is the {part} replaceable", "", 0.5),
    ("is the {acc} any good", "", 0.45),
]

CHATTY_PRE = [
    "hi, been looking at a few of these for my {relative}.", "so im trying to decide between a couple options.",
    "first time buying one of these.", "ok so my old one finally died after years.",
    "hello, shopping for a gift.", "we are moving into a smaller place next month.",
]
CHATTY_POST = [
    "hi, had this about {n} {unit} now.", "so weve used it maybe {n} times.", "ok so it was fine at first.",
    "got this for my {relative}.", "used it for the first time today.", "not sure if its me or the {noun}.",
]
OPENERS = ["hi ", "hello, ", "quick question ", "hey ", "question: "]
CLOSERS = [" thanks", " thx", " thank you!", " ty", " please help"]
WASHES = ["after one wash", "after washing", "in the dryer", "after the first wash", "after {n} washes"]
WHENS = ["when it runs", "on high", "when i turn it on", "at startup", "when it heats up", "while charging",
         "the whole time"]
OF_NOUN = ["", " of the {noun}", " of this {noun}", " of the {part}", " of the box"]
WITH_NOUN = ["", " with the {noun}", " with this {noun}", " in the box", " in the package"]
FAILURES = ["broke", "came loose", "fell off", "cracked", "snapped", "is coming apart", "stopped working right"]


def _typo(word: str, rng: random.Random) -> str:
    """One realistic keyboard slip: a dropped, doubled or swapped letter."""
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("drop", "double", "swap"))
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i - 1] + word[i] + word[i - 1] + word[i + 1:]


def _register(text: str, rng: random.Random) -> str:
    """Casing, punctuation, typos and (rarely) greetings, as real shoppers type them."""
    if rng.random() < 0.5:
        text = text.replace("'", "")
    words = [(_typo(w, rng) if rng.random() < 0.03 else w) for w in text.split()]
    text = " ".join(words)
    if rng.random() < 0.04:
        text = rng.choice(OPENERS) + text
    roll = rng.random()
    if roll < 0.35:
        text = text[:1].upper() + text[1:]
    elif roll < 0.37:
        text = text.upper()
    ending = rng.random()
    if ending < 0.42:
        text += "?"
    elif ending < 0.46:
        text += "??"
    elif ending < 0.5:
        text += "."
    if rng.random() < 0.03:
        text += rng.choice(CLOSERS)
    return text


def _fill(template: str, category: Category, item: str, rng: random.Random) -> str:
    """Fill a template's slots from the category's own words (never another category's)."""
    n = rng.randint(2, 11)
    unit = rng.choice(UNITS)[1]
    material, material2 = rng.sample(category.materials, 2)
    slots = {
        "noun": rng.choice(category.nouns), "part": rng.choice(category.parts), "acc": rng.choice(category.accessories),
        "cons": rng.choice(category.consumables), "acc2": rng.choice(category.accessories),
        "spec": rng.choice(category.specs), "material": material,
        "material2": material2, "fit": rng.choice(category.fits), "rival": rng.choice(category.rivals),
        "use": rng.choice(category.uses), "defect": rng.choice(category.defects),
        "howto": rng.choice(category.owner_howtos), "setup": rng.choice(category.setups or ("",)),
        "failure": rng.choice(FAILURES), "code": rng.choice(CODES),
        "color": rng.choice(COLORS), "blink": rng.choice(BLINKS), "device": rng.choice(DEVICES),
        "noise": rng.choice(NOISES), "smell": rng.choice(SMELLS), "place": rng.choice(PLACES),
        "date": rng.choice(DATES), "size": rng.choice(SIZES), "brand": rng.choice(BRANDS),
        "height": rng.choice(HEIGHTS), "relative": rng.choice(RELATIVES), "store_place": rng.choice(STORE_PLACES),
        "stain": rng.choice(STAINS), "wash": rng.choice(WASHES), "when": rng.choice(WHENS),
        "time": rng.choice(TIMES), "of_noun": rng.choice(OF_NOUN), "with_noun": rng.choice(WITH_NOUN),
        "to_place": rng.choice(["", " to {place}"]), "unit_system": rng.choice(["in inches", "in cm", "in mm", ""]),
        "post_tail": rng.choice(POST_TAILS), "pre_tail": rng.choice(PRE_TAILS),
    }
    text = template
    for _ in range(3):  # slots may hold slots ({time} -> "after {n} {unit}")
        text = text.format(n=n, unit=unit, **slots) if "{" in text else text
    return _name_the_product(" ".join(text.split()), category, rng)


def _name_the_product(text: str, category: Category, rng: random.Random) -> str:
    """People say 'it', 'this', 'the blender' or 'this blender' for the same thing."""
    words = text.split(" ")
    noun = rng.choice(category.nouns)
    for i, word in enumerate(words):
        if word == "it":
            words[i] = rng.choice(["it", "it", "it", "this", f"the {noun}", f"this {noun}"])
    return " ".join(words)


def _applies(trait: str, category: Category) -> bool:
    """'' applies to every category, 'x' only to those with trait x, '-x' only to those without it."""
    if trait.startswith("-"):
        return trait[1:] not in category.traits
    return not trait or trait in category.traits


def _kinds_for(kinds: dict[str, tuple[str, list[str]]], category: Category) -> list[str]:
    return sorted(k for k, (trait, _) in kinds.items() if _applies(trait, category))


def _tilted_lean(template: str, lean: float, category: Category) -> float:
    """Shift a template's lean one way for powered products and the other way for the rest."""
    offset = random.Random(template).choice((-0.3, 0.3))
    offset = offset if "power" in category.traits else -offset
    return min(0.95, max(0.05, lean + offset))


def compose_question(label: str, category: Category, item: str, rng: random.Random, ambiguous_share: float) -> str:
    """One question of the given label in plain form, from the category's kinds (or an ambiguous one)."""
    if rng.random() < ambiguous_share:
        usable = [(t, _tilted_lean(t, lean, category)) for t, trait, lean in AMBIGUOUS if _applies(trait, category)]
        weights = [lean if label == "Post" else 1 - lean for _, lean in usable]
        template = rng.choices([t for t, _ in usable], weights)[0]
    else:
        kinds = POST_KINDS if label == "Post" else PRE_KINDS
        kind = rng.choice(_kinds_for(kinds, category))
        template = rng.choice(kinds[kind][1])
    text = _fill(template, category, item, rng)
    if rng.random() < 0.08:
        opener = rng.choice(CHATTY_POST if label == "Post" else CHATTY_PRE)
        text = f"{_fill(opener, category, item, rng)} {text}"
    return text


def generate_rows(n_rows: int, seed: int, ambiguous_share: float, flip_share: float,
                  pre_share: float = REAL_PRE_SHARE) -> list[dict[str, object]]:
    """Rows in the public dataset's schema with about ``pre_share`` Pre after label noise."""
    if not 0 <= flip_share < 0.5:
        raise ValueError(f"flip_share must be in [0, 0.5), got {flip_share}")
    rng = random.Random(seed)
    names = sorted(CATEGORIES)
    # Flipping moves the share towards 0.5; draw the clean label so that the noisy one lands on pre_share.
    clean_pre = min(1.0, max(0.0, (pre_share - flip_share) / (1 - 2 * flip_share)))
    rows, seen = [], set()
    for _ in range(n_rows):
        category = CATEGORIES[rng.choice(names)]
        item = rng.choice(category.items)
        label = "Pre" if rng.random() < clean_pre else "Post"
        question = _register(compose_question(label, category, item, rng, ambiguous_share), rng)
        for _ in range(REDRAWS):  # common questions do repeat, but most rows should be new
            if (question, label) not in seen:
                break
            question = _register(compose_question(label, category, item, rng, ambiguous_share), rng)
        seen.add((question, label))
        if rng.random() < flip_share:
            label = LABELS[1 - LABELS.index(label)]
        hours = rng.uniform(1, 2000) * (1 if label == "Post" else -1)
        rows.append({"asin": f"B0{rng.randrange(16**8):08X}", "question": question, "item_name": item,
                     "hours_diff": round(hours, 2), "label": label})
    return rows


def category_of_item(item_name: str) -> str:
    """The category an item name belongs to (item names are unique across categories)."""
    for name, category in CATEGORIES.items():
        if item_name in category.items:
            return name
    raise KeyError(f"unknown item name: {item_name!r}")


def write_csv_gz(rows: list[dict[str, object]], path: Path) -> None:
    """Write gzip CSV with a fixed mtime so the file is byte-identical across runs."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(buffer.getvalue().encode("utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40000, help="rows to write (any number; default 40000)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--pre-share", type=float, default=REAL_PRE_SHARE, help="share of Pre labels (default 0.577)")
    parser.add_argument("--ambiguous-share", type=float, default=0.15)
    parser.add_argument("--flip-share", type=float, default=0.04)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "data" / "PrePostQuestions.csv.gz")
    args = parser.parse_args()
    if args.rows < 1:
        parser.error(f"--rows must be at least 1, got {args.rows}")
    rows = generate_rows(args.rows, args.seed, args.ambiguous_share, args.flip_share, args.pre_share)
    write_csv_gz(rows, args.out)
    pre = sum(r["label"] == "Pre" for r in rows)
    print(f"wrote {len(rows)} rows to {args.out} ({pre / len(rows):.1%} Pre)")


if __name__ == "__main__":
    main()
