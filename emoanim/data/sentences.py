"""Generated English sentences for the synthetic corpus, and hand-written showcase sentences.

A small phrase grammar fills many sentence frames (statements, questions, exclamations, lists,
subordinate and relative clauses) from semantic categories, so verbs get sensible objects ("fed the
brown puppy", never "fed the piano"). The vocabulary leans on lip-visible sounds: bilabials and
labiodentals /p b m f v/, rounded vowels /uw ow w/ and open vowels /aa ae ao aw/, because those are
the phones whose mouth shapes a face model most needs to see often.

``SentenceGenerator(seed).sentence(i)`` is a pure function of (seed, i). Texts are effectively unique
(no repeat among the first 100,000 indices of seed 0): every frame has tens of millions of fillings
or more, and the frames with the fewest are drawn rarely. Sentence
content is emotionally neutral on purpose: the same sentence is spoken with every emotion, so the
words must not give the emotion away. Every word is in CMUdict, so forced alignment never meets an
unknown word. ``split_of_sentence`` assigns train/val/test by a stable hash of the id.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from emoanim.vocabulary import ARPABET


def _w(text: str) -> tuple[str, ...]:
    """Whitespace-separated words; '_' joins a multi-word item ("post_office")."""
    return tuple(w.replace("_", " ") for w in text.split())


def _verbs(text: str) -> tuple[tuple[str, str], ...]:
    """'buy:bought bake' -> (('buy', 'bought'), ('bake', 'baked'))."""
    pairs = []
    for item in text.split():
        base, _, past = item.partition(":")
        pairs.append((base.replace("_", " "), (past or _regular_past(base)).replace("_", " ")))
    return tuple(pairs)


def _regular_past(base: str) -> str:
    if base.endswith("e"):
        return base + "d"
    if base.endswith("y") and base[-2] not in "aeiou":
        return base[:-1] + "ied"
    return base + "ed"


# ----------------------------------------------------------------------------------------- vocabulary

NAMES = _w("""
    Paul Mary Bob Mabel Philip Victor Molly Ben Pam Frank Vera Fiona Bruno Owen Hugo Ruth Lou June Joe
    Rose Tom Sam Maria Ava Noah Olivia Emma Oliver Martha Walter Margaret Bobby Arthur Patrick Ivan
    Vivian Boris Dave Eva Abby Paula Robert Barbara Otto Naomi Luke Ruby Mike Peggy Fred Phoebe Victoria
    Brooke Wanda Wendy Warren Woody Howard Norman Doug Lola Hank Moira Bonnie Maude Rupert Amos Beau
    Hope Nora Mona Judy Boyd Duncan Jasmine Pablo Fabio Marco Bella Vince Wally Bernard Mavis Felix Flora
    Morgan Pamela Maxine Max Bianca Bradley Sophia Monica Valerie Vanessa Wilbur Wilma Bertha Barney
    Beverly Milo Murphy Mitchell Pauline Penny Percy Pedro Porter Preston Roland Ramona Palmer Powell
    Bowman Bruce Marvin Melvin Wolfgang Woodrow Yvonne
""")  # fmt: skip
CITIES = _w("""
    Boston Memphis Paris Rome Moscow Oslo Madrid Bombay Cairo Toronto Chicago Phoenix Vienna Venice Miami
    Manila Tokyo Omaha Oakland Portland Buffalo Dublin Lisbon Berlin Warsaw Baltimore Atlanta Dallas Denver
    Honolulu Nashville Sydney Melbourne Hamburg Munich Frankfurt Glasgow Bogota Mumbai Ottawa Albany
""")  # fmt: skip
RELATIVES = _w("""
    mother father brother sister uncle aunt cousin nephew niece grandfather grandmother neighbor boss
    husband wife friend roommate partner
""")  # fmt: skip
SEASONS = _w("spring summer autumn winter")
DAYS = _w("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")
MONTHS = _w("January February March April May June July August September October November December")
SMALL_NUMBERS = _w("two three four five six seven eight nine ten eleven twelve")
NUMBERS = SMALL_NUMBERS + (
    "fifteen", "twenty", "thirty", "forty", "fifty", "sixty", "ninety", "a hundred", "two hundred",
    "five hundred", "a thousand", "a few", "several", "a dozen", "many",
)  # fmt: skip
CLOCK_HOURS = _w("one two three four five six seven eight nine ten eleven twelve")
DAY_PARTS = ("in the morning", "in the afternoon", "in the evening", "at night", "before lunch", "after lunch",
             "before dinner", "after dinner", "at dawn", "at noon", "at midnight", "after work", "before school")
# Relative times by tense, so a past-tense verb never meets "tomorrow".
PAST_TIMES = ("yesterday", "last week", "a moment ago", "two days ago", "a month ago", "years ago", "last night",
              "the other day", "earlier today", "this morning", "once before", "back in the day")
FUTURE_TIMES = ("tomorrow", "next week", "tonight", "soon", "later on", "later today", "in a minute",
                "this weekend", "before long", "some other day", "next time")
# Preverbal adverbs with no emotional colour ("Paul slowly painted the boat").
MANNER_ADVERBS = _w("""
    slowly quickly carefully quietly finally already never always usually often nearly simply gently
    promptly secretly politely probably apparently briefly firmly barely almost swiftly boldly
""")  # fmt: skip
DEGREE_ADVERBS = ("very", "quite", "rather", "too", "fairly", "pretty", "really", "a bit", "so", "awfully",
                  "unusually", "remarkably", "mostly", "perfectly")
SAY_VERBS = _w("said thought knew heard mentioned wrote explained remembered noticed believed suspected")
COPULAS = _w("was looked seemed")
# Past-tense verb phrases without an object; {city} / {building} / {time} slots are filled in place.
INTRANSITIVE = (
    "moved to {city}", "flew to {city}", "went home early", "went home", "walked to the {building}",
    "came back from {city}", "woke up early", "stayed up late", "fell asleep on the sofa", "waved goodbye",
    "went swimming", "went fishing", "went bowling", "went shopping", "went camping", "went boating",
    "moved away", "stopped by the {building}", "walked home", "drove home", "took the bus to {city}",
    "rode a bike to the {building}", "went back to {city}", "paid the bill", "phoned back", "left for {city}",
    "worked late", "stayed at the {building}", "moved to a farm", "jogged around the park", "took a nap",
    "mowed the lawn", "voted by mail", "went to the movies", "flew home from {city}", "called a cab",
    "boarded the ferry to {city}", "went over the bridge", "found a map of {city}", "took a photo",
)  # fmt: skip
PLACES = (
    "at the {building}", "in {city}", "near the {building}", "behind the {building}", "outside the {building}",
    "on the beach", "near the harbor", "by the river", "under the bridge", "at home", "downtown",
    "in the garden", "on the farm", "in the park", "by the pool", "at the bus stop", "on the boat",
    "in the valley", "at the top of the hill", "on the porch", "in the back yard", "on the way to {city}",
)  # fmt: skip
CLOCK_FORMS = ("{h} o'clock", "half past {h}", "a quarter to {h}", "ten past {h}")
DAY_PERIODS = _w("morning afternoon evening night")
MEALS = ("for breakfast", "for lunch", "for dinner", "after dinner", "before lunch", "tonight", "this evening",
         "later on", "at noon", "on Sunday")
DURATION_UNITS = _w("minutes hours days weeks")
PRONOUNS = _w("I we they she he you")
SCHEDULED = _w("bus ferry plane train boat night_bus shuttle coach")
ACTIVITIES = _w("swimming fishing bowling shopping camping boating jogging painting baking cooking")
FREQUENCIES = ("every morning", "every evening", "on Mondays", "on Fridays", "on Sundays", "twice a week",
               "once a month", "every summer", "most days", "every other week", "on weekends", "every day")


@dataclass(frozen=True)
class Category:
    """Nouns of one kind, the adjectives that suit them and the verbs that take them as objects."""

    nouns: tuple[str, ...]  # countable, singular
    adjectives: tuple[str, ...]
    verbs: tuple[tuple[str, str], ...]  # (base, past)
    masses: tuple[str, ...] = ()  # uncountable: no article, no plural ("some soup")
    numbers: tuple[str, ...] = SMALL_NUMBERS  # counts that sound plausible ("a hundred plums", not mayors)
    owned: bool = True  # takes possessives ("my van"); "my museum" sounds odd


CATEGORIES: dict[str, Category] = {
    "food": Category(
        nouns=_w("""apple banana plum peach melon muffin waffle pie potato tomato bagel pepper pumpkin mango
                    biscuit cookie sandwich burger omelet pancake avocado cabbage carrot onion orange lemon
                    grape berry pear cupcake pizza doughnut coconut meatball pretzel walnut olive"""),
        masses=_w("soup bread coffee butter milk cheese honey pasta popcorn jam fudge toffee oatmeal broth"),
        adjectives=_w("""fresh warm sweet ripe frozen spicy soft hot cold homemade juicy brown buttery tasty
                         purple big small cheap local organic smoked bitter"""),
        verbs=_verbs("buy:bought bring:brought pack sell:sold order share serve taste eat:ate bake cook"
                     " find:found forget:forgot wrap:wrapped save carry grab:grabbed deliver"),
        numbers=NUMBERS,
    ),
    "object": Category(
        nouns=_w("""lamp box book map umbrella blanket pillow mirror clock vase basket bucket bottle cup mug
                    bowl plate spoon fork knife pan pot pencil phone camera piano violin guitar radio wallet
                    purse envelope folder suitcase broom rope hammer puzzle postcard balloon candle comb
                    towel sofa stove fan mop backpack globe barrel trumpet flute vest oven video valve
                    vacuum"""),
        adjectives=_w("""blue brown purple old new small big heavy broken wooden plastic metal shiny dusty
                         cheap yellow black white pink round square golden velvet tiny huge spare vintage
                         silver violet navy"""),
        verbs=_verbs("buy:bought move fix find:found lose:lost paint borrow carry drop:dropped open pack"
                     " wrap:wrapped sell:sold hide:hid return grab:grabbed clean keep:kept bring:brought fetch"
                     " weigh deliver save leave:left"),
        numbers=NUMBERS,
    ),
    "vehicle": Category(
        nouns=_w("boat bus van car bike truck taxi plane scooter tractor ferry canoe yacht jeep wagon cab"
                 " motorbike sailboat rowboat minivan"),
        adjectives=_w("""blue brown purple old new fast rusty shiny muddy huge tiny white black yellow orange
                         borrowed small big famous cheap spare vintage silver navy"""),
        verbs=_verbs("drive:drove park fix wash sell:sold buy:bought paint rent borrow tow board miss follow"
                     " stop:stopped move photograph leave:left"),
    ),
    "animal": Category(
        nouns=_w("""dog cat cow horse pony puppy kitten goat sheep duck goose mouse fox wolf bear monkey
                    rabbit parrot pigeon owl mule lamb calf beaver moose buffalo baboon panda poodle frog
                    toad whale dolphin peacock ox"""),
        adjectives=_w("""brown black white fat small big old young fluffy muddy spotted wild tame lazy huge
                         tiny woolly sleepy hungry noisy"""),
        verbs=_verbs("feed:fed walk find:found follow brush wash photograph chase count watch buy:bought"
                     " sell:sold adopt spot:spotted save move"),
    ),
    "person": Category(
        nouns=_w("""mayor doctor baker pilot farmer plumber professor barber butcher lawyer nurse mailman
                    painter pianist violinist fisherman poet boxer model banker coach mover
                    waiter author tourist vet vendor visitor"""),
        adjectives=_w("old young famous friendly tall busy new local retired polite quiet"),
        verbs=_verbs("visit phone meet:met call help follow thank pay:paid invite interview photograph"
                     " email:emailed find:found"),
        owned=False,
    ),
    "building": Category(
        nouns=_w("""museum bakery library hospital farm barn office pub school palace cottage garage
                    warehouse market shop cabin tower castle bookshop cafeteria motel gym
                    pharmacy house movie_theater post_office bus_station"""),
        adjectives=_w("old new famous empty busy small big local historic brown white blue modern vast"),
        verbs=_verbs("visit leave:left pass paint clean find:found buy:bought sell:sold open close build:built"
                     " photograph approach move_into:moved_into"),
        owned=False,
    ),
}  # fmt: skip
BUILDINGS = CATEGORIES["building"].nouns
PLURAL_EXCEPTIONS = {
    "knife": "knives", "mouse": "mice", "goose": "geese", "wolf": "wolves", "sheep": "sheep", "moose": "moose",
    "calf": "calves", "potato": "potatoes", "tomato": "tomatoes", "mango": "mangoes", "fisherman": "fishermen",
    "mailman": "mailmen", "ox": "oxen", "buffalo": "buffalo",
}  # fmt: skip
DETERMINERS = ("the", "a", "this", "that")
POSSESSIVES = ("my", "your", "his", "her", "our", "their")
MASS_DETERMINERS = ("the", "some", "that") + POSSESSIVES
AN_EXCEPTIONS = frozenset({"one", "university", "uniform", "useful", "usual", "european", "euphoric"})  # "a"


# -------------------------------------------------------------------------------------------- frames

# (weight, template). {slot} calls the _Builder method of that name; [optional] parts appear half the
# time. Frames with few possible fillings weigh little, since they would repeat first.
FRAMES: tuple[tuple[float, str], ...] = (
    # statements
    (1.5, "{subj} {vp} {place}[ {time}]."),
    (1.5, "{subj} {vp} {time}."),
    (2.0, "{subj} {manner} {vp}[ {time}]."),
    (1.5, "{subj} and {name} {vp}[ {place}][ {time}]."),
    (1.5, "{subj} will {vp_base}[ {later}]."),
    (1.5, "{subj3} {vp_3sg} {frequency}[ {place}]."),
    (1.0, "There were {count_np} {place} {time}."),
    (1.5, "{described} {time}."),
    (1.5, "{subj} {say} that {clause}."),
    (0.3, "{subj} {iv} {time}."),
    (1.0, "{subj} {iv} with {name} {time}."),
    (1.5, "{subj} {iv} and {vp}[ {time}]."),
    (1.0, "I {vp} for {name}[ {time}]."),
    (1.0, "{name} has {count_np} and {count_np}."),
    (1.0, "It took {name} {duration} to {vp_base}."),
    (0.4, "The {scheduled} from {city} to {city} leaves at {clock} {day_time}."),
    (1.0, "{subj} went {activity} with {name} {place_or_time}."),
    # lists
    (1.5, "{subj} {list_vp}[ {time}]."),
    (1.0, "We need {count_np}, {count_np} and {thing_np}."),
    (1.0, "{name}, {name} and {name} {iv}[ {time}]."),
    # subordinate and relative clauses
    (1.5, "When {clause}, {clause}."),
    (1.0, "{clause} before {clause}."),
    (1.0, "{clause} after {clause}."),
    (1.0, "{clause} because {clause}."),
    (1.0, "If {subj3} {vp_3sg}, {subj} will {vp_base}."),
    (1.0, "{clause}, but {clause}."),
    (1.0, "{clause} while {subj} {iv}."),
    (1.0, "Although {clause}, {clause}."),
    (1.0, "{name}, who {vp}, {iv}[ {time}]."),
    (1.5, "{described_relative}."),
    # questions
    (1.5, "Did {subj} {vp_base}[ {time}]?"),
    (1.0, "Where did {subj} {vp_base} {time}?"),
    (1.0, "Why would {subj} {vp_base}[ {later}]?"),
    (1.0, "Who {vp} {place} {time}?"),
    (1.0, "{how_many} {time}?"),
    (1.0, "Can you {vp_base} {place} {later}?"),
    (0.5, "{name}, would you like {food_np} with your {food} {meal}?"),
    (1.0, "Was {either_or}?"),
    (1.0, "{name}, did you {vp_base}[ {time}]?"),
    (1.0, "Is it true that {clause} {place_or_time}?"),
    # exclamations and requests
    (1.0, "{what_a}!"),
    (0.7, "{name}, look at {count_np} {place}!"),
    (1.0, "{name}, please {vp_base} {later}!"),
    (1.0, "Please {vp_base} {place} {later}."),
    (0.7, "{name}, don't {vp_base} {later}!"),
    (0.7, "{subj} {vp} {time}!"),
)  # fmt: skip

MIN_WORDS, MAX_WORDS = 4, 20
MIN_SECONDS, MAX_SECONDS = 1.5, 6.0
SYLLABLES_PER_SECOND = 4.5  # typical TTS rate; only used to keep sentences inside the duration band
SPLIT_SHARES = (("train", 0.8), ("val", 0.1), ("test", 0.1))


# ------------------------------------------------------------------------------------------ generator


@dataclass(frozen=True)
class Sentence:
    id: str
    text: str

    @property
    def words(self) -> list[str]:
        return words_of(self.text)


class SentenceGenerator:
    """Deterministic sentence source: ``sentence(i)`` depends only on (seed, i)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)

    def sentence(self, index: int) -> Sentence:
        if index < 0:
            raise ValueError(f"sentence index must be >= 0, got {index}")
        # String seeds go through SHA-512 in random.Random: identical on every platform and Python 3.
        rng = random.Random(f"emoanim-sentence/{self.seed}/{index}")
        while True:  # resample until the sentence is inside the word and duration band
            text = _Builder(rng).sentence()
            n = len(words_of(text))
            if MIN_WORDS <= n <= MAX_WORDS and MIN_SECONDS <= estimated_seconds(text) <= MAX_SECONDS:
                return Sentence(f"gen{self.seed}-{index:07d}", text)

    def sentences(self, start: int, count: int) -> list[Sentence]:
        return [self.sentence(i) for i in range(start, start + count)]


def split_of_sentence(sentence_id: str, seed: int = 0) -> str:
    """'train' / 'val' / 'test' (80/10/10) by a stable hash, so test sentences never reach training."""
    digest = hashlib.blake2b(f"{seed}/{sentence_id}".encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "little") / 2**64
    cumulative = 0.0
    for split, share in SPLIT_SHARES:
        cumulative += share
        if u < cumulative:
            return split
    return SPLIT_SHARES[-1][0]


class _Builder:
    """Fills one frame: each {slot} in FRAMES calls the method of that name."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def sentence(self) -> str:
        template = self.rng.choices([t for _, t in FRAMES], weights=[w for w, _ in FRAMES])[0]
        text = self.expand(template)
        return text[0].upper() + text[1:]

    def expand(self, template: str) -> str:
        template = re.sub(r"\[([^\]]*)\]", lambda m: m.group(1) if self.chance(0.5) else "", template)
        return re.sub(r"\{(\w+)\}", lambda m: getattr(self, m.group(1))(), template)

    def pick(self, options):
        return self.rng.choice(options)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def category(self, *exclude: str) -> Category:
        return CATEGORIES[self.pick([name for name in CATEGORIES if name not in exclude])]

    # --- single words and fixed phrases
    def name(self) -> str:
        return self.pick(NAMES)

    def city(self) -> str:
        return self.pick(CITIES)

    def building(self) -> str:
        return self.pick(CATEGORIES["building"].nouns)

    def scheduled(self) -> str:
        return self.pick(SCHEDULED)

    def manner(self) -> str:
        return self.pick(MANNER_ADVERBS)

    def say(self) -> str:
        return self.pick(SAY_VERBS)

    def meal(self) -> str:
        return self.pick(MEALS)

    def activity(self) -> str:
        return self.pick(ACTIVITIES)

    def frequency(self) -> str:
        return self.pick(FREQUENCIES)

    def food(self) -> str:
        return self.pick(CATEGORIES["food"].nouns + CATEGORIES["food"].masses)

    def clock(self) -> str:
        return self.pick(("noon",) + tuple(form.format(h=self.pick(CLOCK_HOURS)) for form in CLOCK_FORMS))

    def duration(self) -> str:
        return f"{self.pick(SMALL_NUMBERS + ('a few', 'several', 'twenty', 'forty'))} {self.pick(DURATION_UNITS)}"

    # --- when and where
    def time(self) -> str:
        """A time phrase that suits a past-tense verb ('last Friday', 'at noon')."""
        return self._time(past=True)

    def later(self) -> str:
        """A time phrase that suits a future or a request ('next Friday', 'at noon')."""
        return self._time(past=False)

    def _time(self, past: bool) -> str:
        near = "last" if past else "next"
        kind = self.rng.randrange(6)
        if kind == 0:
            return f"{self.pick(('on', near, 'early on', 'late on'))} {self.pick(DAYS)}"
        if kind == 1:
            return f"{self.pick(('in', 'early in', 'late in', near))} {self.pick(MONTHS)}"
        if kind == 2:
            return self.pick(DAY_PARTS)
        if kind == 3:
            return f"at {self.clock()}"
        if kind == 4:
            return f"{self.pick(('on', 'early on', 'late on', near))} {self.pick(DAYS)} {self.pick(DAY_PERIODS)}"
        return self.pick((PAST_TIMES if past else FUTURE_TIMES) + tuple(f"{near} {s}" for s in SEASONS))

    def day_time(self) -> str:
        """'on Monday', 'every Friday evening' (for timetables)."""
        period = f" {self.pick(DAY_PERIODS)}" if self.chance(0.5) else ""
        return f"{self.pick(('on', 'every', 'next'))} {self.pick(DAYS)}{period}"

    def place(self) -> str:
        return self.expand(self.pick(PLACES))

    def place_or_time(self) -> str:
        kind = self.rng.randrange(3)
        return self.place() if kind == 0 else self.time() if kind == 1 else f"{self.place()} {self.time()}"

    # --- subjects
    def subj(self) -> str:
        return self.pick(PRONOUNS) if self.chance(0.08) else self.subj3()

    def subj3(self) -> str:
        """A third-person singular subject (agrees with 'paints', 'buys')."""
        kind = self.rng.random()
        if kind < 0.55:
            return self.name()
        if kind < 0.8:
            return self.noun_phrase(CATEGORIES["person"], plural_ok=False)
        return self.relative()

    def relative(self) -> str:
        return f"{self.pick(POSSESSIVES)} {self.pick(RELATIVES)}"

    # --- noun phrases
    def noun_phrase(self, cat: Category, plural_ok: bool = True) -> str:
        """'the muddy van', 'an old cow', 'some warm soup', 'four ripe plums'."""
        adjective = f"{self.pick(cat.adjectives)} " if self.chance(0.5) else ""
        if cat.masses and self.chance(0.3):
            return f"{self.pick(MASS_DETERMINERS)} {adjective}{self.pick(cat.masses)}"
        if plural_ok and self.chance(0.3 if cat.owned else 0.1):
            return f"{self.pick(cat.numbers)} {adjective}{plural(self.pick(cat.nouns))}"
        head = adjective + self.pick(cat.nouns)
        det = self.pick(DETERMINERS + POSSESSIVES if cat.owned else DETERMINERS)
        return f"{article(head) if det == 'a' else det} {head}"

    def counted(self, cat: Category) -> str:
        """'four purple boats', 'a dozen ripe plums'."""
        adjective = f"{self.pick(cat.adjectives)} " if self.chance(0.6) else ""
        return f"{self.pick(cat.numbers)} {adjective}{plural(self.pick(cat.nouns))}"

    def thing_np(self) -> str:
        return self.noun_phrase(self.category("person", "building"))

    def count_np(self) -> str:
        return self.counted(self.category("person", "building"))

    def food_np(self) -> str:
        cat = CATEGORIES["food"]
        if self.chance(0.5):
            return f"some {self.pick(cat.adjectives)} {self.pick(cat.masses)}"
        head = f"{self.pick(cat.adjectives)} {self.pick(cat.nouns)}"
        return f"{article(head)} {head}" if self.chance(0.5) else self.counted(cat)

    # --- verb phrases: the verb always suits its object's category
    def _object(self) -> tuple[tuple[str, str], str]:
        cat = self.category()
        if cat is CATEGORIES["person"] and self.chance(0.5):
            obj = self.name() if self.chance(0.5) else self.relative()
        else:
            obj = self.noun_phrase(cat)
        return self.pick(cat.verbs), obj

    def vp(self) -> str:
        (_, past), obj = self._object()
        return f"{past} {obj}"

    def vp_base(self) -> str:
        (base, _), obj = self._object()
        return f"{base} {obj}"

    def vp_3sg(self) -> str:
        (base, _), obj = self._object()
        return f"{third_person(base)} {obj}"

    def iv(self) -> str:
        return self.expand(self.pick(INTRANSITIVE))

    def list_vp(self) -> str:
        """'bought apples, plums and a melon': one verb, two or three objects of its category."""
        cat = self.category("person")
        _, past = self.pick(cat.verbs)
        items = [self.noun_phrase(cat) for _ in range(self.pick((2, 3, 3)))]
        return f"{past} {', '.join(items[:-1])} and {items[-1]}"

    def clause(self) -> str:
        return f"{self.subj()} {self.iv() if self.chance(0.2) else self.vp()}"

    # --- compound slots that need one category across several words
    def _relative_np(self, cat: Category) -> str:
        """'the boat that Victor bought'."""
        _, past = self.pick(cat.verbs)
        return f"the {self.pick(cat.nouns)} that {self.subj()} {past}"

    def described(self) -> str:
        """'our old van looked very muddy'."""
        cat = self.category()
        first, second = self.rng.sample(cat.adjectives, 2)
        head = f"{first} {self.pick(cat.nouns)}" if self.chance(0.4) else self.pick(cat.nouns)
        det = self.pick(DETERMINERS[:1] + DETERMINERS[2:] + (POSSESSIVES if cat.owned else ()))
        return f"{det} {head} {self.pick(COPULAS)} {self.pick(DEGREE_ADVERBS)} {second}"

    def described_relative(self) -> str:
        """'the boat that Victor bought was rather rusty'."""
        cat = self.category("person")
        return f"{self._relative_np(cat)} {self.pick(COPULAS)} {self.pick(DEGREE_ADVERBS)} {self.pick(cat.adjectives)}"

    def either_or(self) -> str:
        """'the boat that Victor bought blue or brown' (after 'Was')."""
        cat = self.category("person")
        first, second = self.rng.sample(cat.adjectives, 2)
        return f"{self._relative_np(cat)} {first} or {second}"

    def how_many(self) -> str:
        """'How many plums did Mabel buy'."""
        cat = self.category("person", "building")
        base, _ = self.pick(cat.verbs)
        return f"How many {plural(self.pick(cat.nouns))} did {self.subj()} {base}"

    def what_a(self) -> str:
        """'What a shiny boat Paul bought last week'."""
        cat = self.category("person")
        head = f"{self.pick(cat.adjectives)} {self.pick(cat.nouns)}"
        _, past = self.pick(cat.verbs)
        return f"What {article(head)} {head} {self.subj()} {past} {self.place_or_time()}"


# ----------------------------------------------------------------------------------- small grammar bits


def article(phrase: str) -> str:
    word = phrase.split()[0].lower()
    vowel_start = word[0] in "aeiou" and word not in AN_EXCEPTIONS
    return "an" if vowel_start else "a"


def plural(noun: str) -> str:
    last = noun.split()[-1]
    head = noun[: len(noun) - len(last)]
    if last in PLURAL_EXCEPTIONS:
        return head + PLURAL_EXCEPTIONS[last]
    if last.endswith(("s", "x", "z", "ch", "sh")):
        return head + last + "es"
    if last.endswith("y") and last[-2] not in "aeiou":
        return head + last[:-1] + "ies"
    return head + last + "s"


def third_person(verb: str) -> str:
    """'buy' -> 'buys', 'fix' -> 'fixes', 'carry' -> 'carries' (first word of a phrasal verb)."""
    first, _, rest = verb.partition(" ")
    if first.endswith(("s", "x", "z", "ch", "sh", "o")):
        first += "es"
    elif first.endswith("y") and first[-2] not in "aeiou":
        first = first[:-1] + "ies"
    else:
        first += "s"
    return f"{first} {rest}".strip()


def words_of(text: str) -> list[str]:
    """Lower-case words with inner apostrophes and hyphens kept: "Don't stop!" -> ["don't", "stop"]."""
    return re.findall(r"[a-z]+(?:['-][a-z]+)*", text.lower())


def syllables(word: str) -> int:
    """Vowel-group count with a silent-e rule; rough but fixed, so sentence choice never depends on
    whether a pronunciation dictionary is installed."""
    word = word.lower().replace("-", "")
    groups = re.findall(r"[aeiouy]+", word)
    count = len(groups)
    if word.endswith("e") and not word.endswith(("le", "ee", "ye")) and count > 1:
        count -= 1
    return max(1, count)


def estimated_seconds(text: str) -> float:
    """Rough spoken duration: syllables at a TTS rate plus short pauses at commas."""
    n = sum(syllables(w) for w in words_of(text))
    return 0.3 + n / SYLLABLES_PER_SECOND + 0.2 * text.count(",")


def vocabulary() -> set[str]:
    """Every word the generator can emit (lower case), e.g. to check a pronunciation dictionary."""
    phrases: list[str] = [t for _, t in FRAMES] + [f.format(h="") for f in CLOCK_FORMS]
    for table in (NAMES, CITIES, RELATIVES, SEASONS, DAYS, MONTHS, NUMBERS, CLOCK_HOURS, DAY_PARTS, PAST_TIMES,
                  FUTURE_TIMES, MANNER_ADVERBS, DEGREE_ADVERBS, SAY_VERBS, COPULAS, INTRANSITIVE, PLACES,
                  DAY_PERIODS, MEALS, DURATION_UNITS, PRONOUNS, SCHEDULED, ACTIVITIES, FREQUENCIES, DETERMINERS,
                  POSSESSIVES, MASS_DETERMINERS):
        phrases += table
    # words that only the compound slots and the time phrases write
    phrases += ["an noon that or what how many did some a few several twenty forty on early late in every",
                "next last"]
    for cat in CATEGORIES.values():
        phrases += cat.nouns + tuple(plural(n) for n in cat.nouns) + cat.masses + cat.adjectives + cat.numbers
        phrases += [f"{base} {past} {third_person(base)}" for base, past in cat.verbs]
    return {w for phrase in phrases for w in words_of(re.sub(r"\{\w+\}", " ", phrase))}


# ------------------------------------------------------------------------------------------ showcase

# Hand-written, phonetically rich, emotionally neutral sentences for demos (Harvard-sentence style).
SHOWCASE_TEXTS: tuple[str, ...] = (
    "The blue boat floated past the old brown mill.",
    "Five puppies played by the wooden fence all morning.",
    "Bob moved the heavy piano over to the far wall.",
    "My father bought a few ripe plums at the market.",
    "We should go to the pool before the weather turns.",
    "Vera folded the purple map and put it in her bag.",
    "A cup of warm soup would be perfect after the boat ride.",
    "The farmer drove the muddy van down the narrow road.",
    "Two owls watched the moon from the top of the barn.",
    "Paul found a box of old photos in the basement.",
    "Move the vase of roses away from the open window.",
    "The museum opens at nine on most Mondays in autumn.",
    "Molly poured fresh milk into a bowl for the kitten.",
    "Bruno always carves the pumpkin with a small blunt knife.",
    "Would you fetch the broom from behind the garage?",
    "The ferry to Oslo leaves at half past four.",
    "Father wove a warm woolen blanket for the baby.",
    "Maybe we could borrow a bike from our neighbor.",
    "Put the bottle of lemonade on the bottom shelf.",
    "The football bounced off the wall and rolled into the pond.",
    "Victor paid for the popcorn with a five dollar bill.",
    "Our cabin by the lake has a view of the mountains.",
    "Who moved my umbrella from the back of the door?",
    "The proud father showed the photo to his boss.",
    "A flock of pigeons flew above the busy harbor.",
    "Mabel baked a batch of muffins on Monday morning.",
    "The movie about the volcano lasted for two hours.",
    "Follow the path past the pub and over the bridge.",
    "Most of the boxes were moved by the van in May.",
    "Phoebe knew the tune but forgot the words to the song.",
    "The waiter brought a bowl of noodles and a spoon.",
    "Bobby found a frog beneath a log by the river.",
    "Walk slowly, the floor of the hall was mopped at noon.",
    "The old clock above the fireplace stopped at two.",
    "Mom fed the brown cow and the woolly sheep at dawn.",
    "We saw a fox dart across the path in the fog.",
    "The boss wants the files on her desk by Friday afternoon.",
    "Hugo, have you found the blue balloon for the party?",
    "Four cups of coffee were far too many for one afternoon.",
    "A vivid rainbow formed above the valley after the rain.",
    "Put the fruit in the fridge before you go out.",
)  # fmt: skip


def showcase_sentences() -> list[Sentence]:
    """The hand-written demo sentences, ids 'showcase-00'... (not part of any generated split)."""
    return [Sentence(f"showcase-{i:02d}", text) for i, text in enumerate(SHOWCASE_TEXTS)]


# ---------------------------------------------------------------------------------- phonetic coverage


def _cmudict_path() -> Path | None:
    try:
        import pocketsphinx
    except ImportError:
        return None
    path = Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"
    return path if path.exists() else None


@lru_cache(maxsize=1)
def cmudict() -> dict[str, tuple[str, ...]] | None:
    """word -> phones (first pronunciation, no stress) from pocketsphinx's CMUdict, or None if absent."""
    path = _cmudict_path()
    if path is None:
        return None
    pronunciations: dict[str, tuple[str, ...]] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            word, *phones = line.split()
            if "(" not in word and phones:  # 'word(2)' are alternatives; keep the first
                pronunciations[word] = tuple(p.lower().rstrip("012") for p in phones)
    return pronunciations


# Letter-to-sound guesses for words missing from CMUdict (longest spelling first).
_GRAPHEMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tion", ("sh", "ah", "n")), ("igh", ("ay",)), ("ough", ("ao",)), ("ch", ("ch",)), ("sh", ("sh",)),
    ("th", ("th",)), ("ph", ("f",)), ("ng", ("ng",)), ("ck", ("k",)), ("qu", ("k", "w")), ("wh", ("w",)),
    ("oo", ("uw",)), ("ee", ("iy",)), ("ea", ("iy",)), ("ai", ("ey",)), ("ay", ("ey",)), ("oa", ("ow",)),
    ("ow", ("ow",)), ("ou", ("aw",)), ("au", ("ao",)), ("aw", ("ao",)), ("oi", ("oy",)), ("oy", ("oy",)),
    ("a", ("ae",)), ("e", ("eh",)), ("i", ("ih",)), ("o", ("aa",)), ("u", ("ah",)), ("y", ("iy",)),
    ("b", ("b",)), ("c", ("k",)), ("d", ("d",)), ("f", ("f",)), ("g", ("g",)), ("h", ("hh",)), ("j", ("jh",)),
    ("k", ("k",)), ("l", ("l",)), ("m", ("m",)), ("n", ("n",)), ("p", ("p",)), ("r", ("r",)), ("s", ("s",)),
    ("t", ("t",)), ("v", ("v",)), ("w", ("w",)), ("x", ("k", "s")), ("z", ("z",)),
)  # fmt: skip


def guess_phones(word: str) -> tuple[str, ...]:
    """A crude spelling-based pronunciation; only for words CMUdict lacks."""
    word = re.sub(r"[^a-z]", "", word.lower())
    if len(word) > 2 and word.endswith("e") and word[-2] not in "aeiou":
        word = word[:-1]  # silent final e
    phones: list[str] = []
    i = 0
    while i < len(word):
        for spelling, sounds in _GRAPHEMES:
            if word.startswith(spelling, i):
                if not (phones and sounds == (phones[-1],)):  # doubled letters make one sound
                    phones.extend(sounds)
                i += len(spelling)
                break
        else:
            i += 1
    return tuple(phones)


def word_phones(word: str) -> tuple[str, ...]:
    """Phones of one word: CMUdict (hyphenated words split if needed), else the spelling guess."""
    pronunciations = cmudict() or {}
    word = word.lower()
    if word in pronunciations:
        return pronunciations[word]
    if "-" in word:
        return tuple(p for part in word.split("-") for p in word_phones(part))
    return guess_phones(word)


def missing_words(texts: Iterable[str]) -> set[str]:
    """Words not in CMUdict (empty if CMUdict is not installed: nothing to check against)."""
    pronunciations = cmudict()
    if pronunciations is None:
        return set()
    return {w for text in texts for w in words_of(text) if w not in pronunciations}


def phonetic_coverage(texts: Iterable[str]) -> dict[str, float]:
    """Share of each ARPAbet phone among all phones of ``texts`` (values sum to 1; absent phones 0)."""
    counts: Counter[str] = Counter()
    for text in texts:
        for word in words_of(text):
            counts.update(word_phones(word))
    total = sum(counts.values()) or 1
    return {phone: counts[phone] / total for phone in ARPABET}
