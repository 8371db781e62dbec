"""Natural-language descriptions of an (emotion, intensity), from three disjoint paraphrase pools.

A description fills a frame ("sounds {ap}", "with a hint of {noun}", "like someone who {sit}") with
words of one emotion and level: synonyms per level (annoyed / angry / furious), intensity adverbs
(slightly / quite / extremely) that grade a synonym, emotion nouns, manner adverbs and situations
("just won the lottery").

The 'train' and 'heldout' pools share no emotion word, intensity adverb, situation or frame, so a
text encoder scored on held-out descriptions meets phrasings it has never seen: train has "furious"
and "extremely", heldout has "seething" and "completely". Held-out words are still common English,
so a pretrained sentence encoder knows them. ``FREE_TEXT_PROBES`` are a third, independent check:
free text ("livid", "bored out of my mind") with the (emotion, intensity) it should map to; no probe
occurs verbatim in any pool.

The 'dev' pool shares no word with either ("irate", "decidedly", "looks {ap}"): it is for model
selection (``train text-adapter`` keeps the epoch that classifies it best), so that neither the
test split's 'heldout' pool nor the probes are ever tuned on. No corpus clip uses it.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass
from functools import cache

import numpy as np

from emoanim.vocabulary import EMOTIONS, INTENSITIES, canonical_emotion, check_intensity
from emoanim.data.sentences import article
from emoanim.errors import EmoAnimError

SPLITS: tuple[str, ...] = ("train", "heldout", "dev")


def _levels(text: str, sep: str = ",") -> dict[int, tuple[str, ...]]:
    """'a, b | c | d, e' -> {1: ('a', 'b'), 2: ('c',), 3: ('d', 'e')} (empty levels allowed); items are split
    at ``sep`` (idioms, which may hold commas, use ';')."""
    levels = text.split("|")
    assert len(levels) == 3, text
    return {level: tuple(x.strip() for x in part.split(sep) if x.strip()) for level, part in zip(INTENSITIES, levels)}


def _items(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


# ------------------------------------------------------------------------------------------- words

# Adverbs that grade a one-word synonym: level 1 weakens, level 2 is plain, level 3 strengthens.
INTENSITY_ADVERBS: dict[str, dict[int, tuple[str, ...]]] = {
    "train": _levels("slightly, a bit, somewhat, a little | quite, really, fairly, very"
                     " | extremely, absolutely, utterly, incredibly, totally"),
    "heldout": _levels("mildly, faintly, a tad, kind of | rather, pretty, noticeably, genuinely"
                       " | completely, intensely, thoroughly, overwhelmingly"),
    "dev": _levels("marginally, vaguely, lightly | decidedly, properly, truly | wildly, deeply, terribly, hugely"),
}  # fmt: skip


@dataclass(frozen=True)
class EmotionWords:
    """One emotion's words in one pool. Levels map 1/2/3 to words that carry that intensity alone."""

    adjectives: dict[int, tuple[str, ...]]
    manners: dict[int, tuple[str, ...]]  # adverbs or short phrases, used bare: "angrily", "in surprise"
    nouns: tuple[str, ...]  # emotion nouns for "with a hint of {noun}"; none for neutral
    situations: dict[int, tuple[str, ...]]  # past-tense verb phrases: "just won the lottery"


# Train situations start with "just"; held-out ones avoid was/were so both "as though they ..." and
# "somebody who ..." read right.
WORDS: dict[str, dict[str, EmotionWords]] = {
    "neutral": {  # level 1 is plain neutral speech (the only level MEAD and the synth corpus use); 2-3 go flatter
        "train": EmotionWords(
            adjectives=_levels("neutral, calm, matter-of-fact, even-toned, composed | plain, flat, steady"
                               " | emotionless, monotone, robotic"),
            manners=_levels("calmly, evenly | plainly, flatly | mechanically"),
            nouns=(),
            situations=_levels("just read out a shopping list, just gave directions to a stranger"
                               " | just finished a day of paperwork, just settled in for an ordinary chat"
                               " | just read a list of numbers into a phone for the hundredth time,"
                               " just recited the same form all day"),
        ),
        "heldout": EmotionWords(
            adjectives=_levels("relaxed, businesslike, impartial, laid-back | indifferent, level, detached"
                               " | deadpan, expressionless, blank, wooden"),
            manners=_levels("casually, coolly | dryly, impassively | woodenly, blankly"),
            nouns=(),
            situations=_levels("answered a routine question, announced a platform change"
                               " | filled in a tax return, sat in a waiting room"
                               " | dictated a serial number, spelled out terms and conditions"),
        ),
        "dev": EmotionWords(
            adjectives=_levels("measured, unemotional, even-keeled, unflustered | unmoved, toneless, unexcited"
                               " | lifeless, droning, glassy-eyed"),
            manners=_levels("soberly | tonelessly | lifelessly"),
            nouns=(),
            situations=_levels("confirmed a booking reference, checked a delivery date"
                               " | sorted the recycling, typed meeting minutes"
                               " | keyed in a barcode digit by digit, copied a spreadsheet cell by cell"),
        ),
    },
    "happy": {
        "train": EmotionWords(
            adjectives=_levels("pleased, cheerful, glad | happy, delighted, joyful | thrilled, overjoyed, elated"),
            manners=_levels("cheerfully | happily, joyfully |"),
            nouns=_items("joy, happiness, cheer"),
            situations=_levels("just found a coin on the pavement, just got a nice compliment"
                               " | just heard some good news, just got a pay rise"
                               " | just won the lottery, just got engaged"),
        ),
        "heldout": EmotionWords(
            adjectives=_levels("content, upbeat | merry, jolly, gleeful | euphoric, jubilant, exhilarated"),
            manners=_levels("contentedly | merrily, gleefully |"),
            nouns=_items("glee, bliss, merriment"),
            situations=_levels("had a pleasant morning, received a friendly message"
                               " | passed a driving test, learned that a childhood pal was coming to stay"
                               " | hit the jackpot, became a parent"),
        ),
        "dev": EmotionWords(
            adjectives=_levels("chipper, satisfied, genial | sunny, lighthearted, buoyant"
                               " | rapturous, radiant, exuberant"),
            manners=_levels("brightly | buoyantly | exuberantly"),
            nouns=_items("mirth, rapture, exuberance"),
            situations=_levels("got a free coffee voucher, enjoyed a warm lunch break"
                               " | scooped a raffle prize, earned a promotion"
                               " | clinched a gold medal, landed a dream career"),
        ),
    },
    "sad": {
        "train": EmotionWords(
            adjectives=_levels("down, glum, gloomy | sad, unhappy, sorrowful | devastated, miserable, despairing"),
            manners=_levels("glumly | sadly, sorrowfully | miserably"),
            nouns=_items("sadness, sorrow, gloom"),
            situations=_levels("just missed the bus, just dropped an ice cream on the floor"
                               " | just said goodbye to an old friend, just failed an exam"
                               " | just lost a loved one, just heard that their dog died"),
        ),
        "heldout": EmotionWords(
            adjectives=_levels("melancholy, disappointed, wistful | mournful, dejected, tearful"
                               " | crushed, inconsolable, distraught, anguished"),
            manners=_levels("wistfully | mournfully, dejectedly | inconsolably"),
            nouns=_items("grief, heartache, dejection"),
            situations=_levels("got a disappointing letter, had a favorite team lose"
                               " | got dumped, had to move far away from home"
                               " | attended a funeral, had everything destroyed in a fire"),
        ),
        "dev": EmotionWords(
            adjectives=_levels("subdued, low-spirited, disheartened | forlorn, somber, woeful"
                               " | desolate, heartsick, wretched, shattered"),
            manners=_levels("| forlornly, somberly | wretchedly"),
            nouns=_items("woe, despondency, desolation"),
            situations=_levels("misplaced a favourite scarf, spent a picnic in the rain"
                               " | cancelled a long-planned holiday, bade farewell to a close neighbour"
                               " | buried a best mate, outlived their own children"),
        ),
    },
    "angry": {
        "train": EmotionWords(
            adjectives=_levels("annoyed, irritated, grumpy | angry, mad, indignant | furious, enraged, outraged"),
            manners=_levels("irritably | angrily | furiously"),
            nouns=_items("anger, annoyance, fury"),
            situations=_levels("just got stuck in traffic, just waited an hour on hold"
                               " | just had their car scratched, just got overcharged"
                               " | just got robbed, just found out they were betrayed"),
        ),
        "heldout": EmotionWords(
            adjectives=_levels("irked, frustrated, peeved | cross, heated, resentful | seething, fuming, incensed"),
            manners=_levels("testily | crossly, heatedly |"),
            nouns=_items("rage, wrath, resentment"),
            situations=_levels("had to wait in a long queue, got a parking ticket"
                               " | got blamed for a colleague's mistake, got insulted in public"
                               " | discovered a partner cheating, returned home to a vandalized house"),
        ),
        "dev": EmotionWords(
            adjectives=_levels("bothered, vexed, cranky | aggravated, riled, hostile | irate, raging, apoplectic"),
            manners=_levels("crankily | sharply | savagely"),
            nouns=_items("ire, vexation, hostility"),
            situations=_levels("got splashed by a speeding van, had a pen borrowed and never given back"
                               " | got tailgated at a junction, got cheated by a mechanic"
                               " | had their savings stolen, witnessed a bully kick a puppy"),
        ),
    },
    "fearful": {
        "train": EmotionWords(
            adjectives=_levels("uneasy, nervous, tense | afraid, scared, fearful | horrified, frantic, panicked"),
            manners=_levels("nervously | fearfully | frantically"),
            nouns=_items("fear, nervousness, panic"),
            situations=_levels("just heard a strange noise, just walked into a job interview"
                               " | just heard footsteps behind them in the dark, just saw a spider on the pillow"
                               " | just saw a ghost, just came face to face with a bear"),
        ),
        "heldout": EmotionWords(
            adjectives=_levels("worried, jittery, apprehensive | frightened, alarmed, spooked"
                               " | petrified, hysterical, paralyzed with dread"),
            manners=_levels("timidly, anxiously | shakily | hysterically"),
            nouns=_items("dread, anxiety, fright"),
            situations=_levels("had to give a speech, had a dentist appointment coming up"
                               " | took a wrong turn into a forest at night, got followed home late at night"
                               " | got chased by a wild animal, woke up to an intruder in the house"),
        ),
        "dev": EmotionWords(
            adjectives=_levels("wary, hesitant, restless | shaken, intimidated, threatened"
                               " | quaking, trembling, terror-stricken"),
            manners=_levels("warily, hesitantly | unsteadily | tremblingly"),
            nouns=_items("terror, trepidation, foreboding"),
            situations=_levels("sensed thunder rumbling in the distance, awaited a medical result"
                               " | wandered alone into an unlit alley, sensed a prowler downstairs"
                               " | got trapped in a burning building, fell overboard in a storm"),
        ),
    },
    "disgusted": {
        "train": EmotionWords(
            adjectives=_levels("squeamish, put off | disgusted, grossed out, repulsed | revolted, nauseated"),
            manners=_levels("| disgustedly |"),
            nouns=_items("disgust, distaste"),
            situations=_levels("just saw a messy kitchen, just smelled sour milk"
                               " | just found a hair in their soup, just smelled rotten eggs"
                               " | just found maggots in their food, just stepped in vomit"),
        ),
        "heldout": EmotionWords(
            adjectives=_levels("queasy | repelled | appalled, sick to the stomach"),
            manners=_levels("| |"),
            nouns=_items("revulsion, repugnance, aversion"),
            situations=_levels("noticed a sticky table, tasted a stale cracker"
                               " | took a bite of a moldy sandwich, opened a smelly trash can"
                               " | discovered a rotting carcass in the yard, cleaned a filthy public toilet"),
        ),
        "dev": EmotionWords(
            adjectives=_levels("uncomfortable | offended, skeeved out | gagging, retching"),
            manners=_levels("| |"),
            nouns=_items("loathing, abhorrence"),
            situations=_levels("touched a slimy doorknob, sniffed a damp towel"
                               " | unblocked a clogged drain, uncovered something furry in the fridge"
                               " | uncovered a dead rat under the sink, swallowed part of a wormy apple"),
        ),
    },
    "surprised": {
        "train": EmotionWords(
            adjectives=_levels("intrigued, caught off guard | surprised, amazed, startled"
                               " | astonished, stunned, shocked"),
            manners=_levels("| in surprise | in shock"),
            nouns=_items("surprise, amazement, shock"),
            situations=_levels("just got an unexpected email, just bumped into an old classmate"
                               " | just got a surprise visit, just heard some unexpected news"
                               " | just walked into a surprise party, just saw a magic trick nobody could explain"),
        ),
        "heldout": EmotionWords(
            adjectives=_levels("curious, puzzled | taken aback, baffled, bewildered"
                               " | astounded, flabbergasted, dumbfounded, speechless"),
            manners=_levels("| in disbelief | in awe"),
            nouns=_items("disbelief, wonder, awe"),
            situations=_levels("spotted a long-lost cousin in a crowd, received a mystery parcel"
                               " | learned a long-kept secret, woke to snow in July"
                               " | noticed a celebrity strolling in the door, learned they were having twins"),
        ),
        "dev": EmotionWords(
            adjectives=_levels("perplexed, quizzical | staggered, jolted, thrown"
                               " | thunderstruck, gobsmacked, floored, stupefied"),
            manners=_levels("| wide-eyed | open-mouthed"),
            nouns=_items("perplexity, stupefaction"),
            situations=_levels("unearthed a forgotten banknote in a coat, got a postcard with no signature"
                               " | realised the neighbour moonlights as a famous singer, got an unrequested refund"
                               " | got handed a convertible in a contest never entered, ran into their own double"),
        ),
    },
    "contemptuous": {
        "train": EmotionWords(
            adjectives=_levels("unimpressed, dismissive | scornful, contemptuous, condescending"
                               " | disdainful, scathing, derisive"),
            manners=_levels("dismissively | scornfully | disdainfully"),
            nouns=_items("contempt, scorn, disdain"),
            situations=_levels("just heard a silly excuse, just saw a sloppy piece of work"
                               " | just heard a lie they saw through, just watched a rival fail"
                               " | just listened to a hypocrite preach, just met a pompous fool"),
        ),
        "heldout": EmotionWords(
            adjectives=_levels("skeptical, aloof, snooty | smug, patronizing, snide, sarcastic"
                               " | mocking, haughty, snobbish"),
            manners=_levels("smugly | sarcastically | mockingly, haughtily"),
            nouns=_items("mockery, arrogance, snobbery"),
            situations=_levels("sat through a dull pitch, skimmed a badly written essay"
                               " | overheard a snob boasting, got fed a lame alibi"
                               " | dealt with a smug know-it-all, got lectured by a phony"),
        ),
        "dev": EmotionWords(
            adjectives=_levels("unconvinced, cynical, superior | scoffing, disparaging, snippy"
                               " | caustic, supercilious, belittling"),
            manners=_levels("cynically | scoffingly | caustically"),
            nouns=_items("disregard, superiority, cynicism"),
            situations=_levels("glanced at a lazy doctor's note, eyed a carelessly parked van"
                               " | endured a braggart exaggerating, witnessed a cheat exposed"
                               " | endured a fraud claiming credit for an invention they never made,"
                               " encountered a bully posing as a hero"),
        ),
    },
}  # fmt: skip
GRADABLE = frozenset(EMOTIONS) - {"neutral"}  # "slightly neutral" is not English; neutral's words are graded already


# ------------------------------------------------------------------------------------------ frames


@dataclass(frozen=True)
class Frames:
    """Templates. Slots: {ap} graded adjective, {a_ap} the same with a/an, {manner}, {noun}, {sit}."""

    ap: tuple[str, ...]
    manner: tuple[str, ...]
    noun: dict[int, tuple[str, ...]]  # the frame itself carries the level ("with a hint of ...")
    situation: tuple[str, ...]


FRAMES: dict[str, Frames] = {
    "train": Frames(
        ap=("{ap}", "sounds {ap}", "the speaker is {ap}", "{a_ap} voice", "feeling {ap}", "{a_ap} person speaking",
            "make it sound {ap}", "speaking while {ap}"),
        manner=("says it {manner}", "speaking {manner}"),
        noun=_levels("speaking with quiet {noun}, with a hint of {noun} | speaking with obvious {noun}, full of {noun}"
                     " | {noun} in every word, overwhelmed by {noun}, bursting with {noun}"),
        situation=("like someone who {sit}", "{ap}, as if they {sit}"),
    ),
    "heldout": Frames(
        ap=("comes across as {ap}", "in {a_ap} mood", "seems {ap}", "{a_ap} tone", "appears {ap}", "acting {ap}"),
        manner=("delivers the line {manner}", "talking {manner}"),
        noun=_levels("a trace of {noun}, tinged with {noun} | with unmistakable {noun}, plenty of {noun}"
                     " | filled to the brim with {noun}, gripped by {noun}, pure {noun}"),
        situation=("as though they {sit}", "the tone of somebody who {sit}"),
    ),
    "dev": Frames(
        ap=("looks {ap}", "{ap} by the look of it", "{a_ap} reply", "{a_ap} expression", "visibly {ap}"),
        manner=("answers {manner}", "replies {manner}"),
        noun=_levels("a touch of {noun}, a whisper of {noun} | evident {noun}, open {noun}"
                     " | consumed by {noun}, drowning in {noun}, overcome with {noun}"),
        situation=("right after they {sit}", "because they {sit}"),
    ),
}  # fmt: skip


def _lexicon(split: str) -> set[str]:
    words = {adverb for level in INTENSITIES for adverb in INTENSITY_ADVERBS[split][level]}
    for emotion in EMOTIONS:
        entry = WORDS[emotion][split]
        words.update(entry.nouns)
        for level in INTENSITIES:
            words.update(entry.adjectives[level] + entry.manners[level])
    return words


# Every emotion word and intensity adverb of each pool (situations and frames are in WORDS / FRAMES).
TRAIN_WORDS: frozenset[str] = frozenset(_lexicon("train"))
HELDOUT_WORDS: frozenset[str] = frozenset(_lexicon("heldout"))
DEV_WORDS: frozenset[str] = frozenset(_lexicon("dev"))

# Free text a user might type, with the (emotion, intensity) it should map to. None of these occurs
# verbatim in either pool: they test generalisation beyond both.
FREE_TEXT_PROBES: dict[str, tuple[str, int]] = {
    "ecstatic": ("happy", 3),
    "livid": ("angry", 3),
    "heartbroken": ("sad", 3),
    "bored out of my mind": ("neutral", 3),
    "terrified": ("fearful", 3),
    "quietly furious": ("angry", 2),
    "mildly amused": ("happy", 1),
    "disgusted by the smell": ("disgusted", 2),
    "can't believe it!": ("surprised", 3),
    "sneering": ("contemptuous", 2),
    "over the moon": ("happy", 3),
    "grinning from ear to ear": ("happy", 3),
    "beaming": ("happy", 2),
    "tickled pink": ("happy", 2),
    "feeling blue": ("sad", 1),
    "down in the dumps": ("sad", 2),
    "in tears": ("sad", 3),
    "on the verge of tears": ("sad", 2),
    "annoyed at the delay": ("angry", 1),
    "fed up": ("angry", 2),
    "ready to explode": ("angry", 3),
    "a bit on edge": ("fearful", 1),
    "worried sick": ("fearful", 2),
    "scared to death": ("fearful", 3),
    "panicking": ("fearful", 3),
    "wrinkling my nose": ("disgusted", 1),
    "that's revolting": ("disgusted", 3),
    "about to throw up": ("disgusted", 3),
    "pleasantly surprised": ("surprised", 1),
    "wow, I didn't expect that": ("surprised", 2),
    "jumped out of my skin": ("surprised", 3),
    "smirking": ("contemptuous", 1),
    "rolling my eyes": ("contemptuous", 1),
    "looking down on everyone": ("contemptuous", 2),
    "with utter disdain": ("contemptuous", 3),
    "calm and collected": ("neutral", 1),
    "just stating the facts": ("neutral", 1),
    "reading the news": ("neutral", 1),
}


# --------------------------------------------------------------------------------------- composing


def _graded(by_level: dict[int, tuple[str, ...]], adverbs: dict[int, tuple[str, ...]], level: int,
            gradable: bool, attributive: bool = False) -> list[str]:
    """Words that say `level` alone, plus intensity adverbs on one-word neighbours: level 1 weakens
    level-1/2 words ("slightly angry"), 2 grades them plainly ("quite annoyed"), 3 strengthens
    level-2/3 words ("extremely angry"). Multi-word phrases stay bare ("taken aback"). Before a noun
    (attributive) only one-word pieces read well: "a slightly angry voice", not "a bit angry voice"."""
    one_word = [w for w in by_level[level] if " " not in w]
    items = one_word if attributive else list(by_level[level])
    if gradable:
        bases = (by_level[2] + by_level[3]) if level == 3 else (by_level[1] + by_level[2])
        usable = [a for a in adverbs[level] if " " not in a] if attributive else adverbs[level]
        items += [f"{adverb} {word}" for adverb in usable for word in bases if " " not in word]
    return items


@cache
def _fillers(emotion: str, level: int, split: str) -> dict[str, tuple[str, ...]]:
    words, adverbs, gradable = WORDS[emotion][split], INTENSITY_ADVERBS[split], emotion in GRADABLE
    ap = _graded(words.adjectives, adverbs, level, gradable)
    attributive = _graded(words.adjectives, adverbs, level, gradable, attributive=True)
    return {
        "ap": tuple(ap),
        "a_ap": tuple(f"{article(a)} {a}" for a in attributive),
        "manner": words.manners[level],  # "speaking extremely angrily" is clumsy: manners are not graded
        "noun": words.nouns,
        "sit": words.situations[level],
    }


@cache
def _templates(emotion: str, level: int, split: str) -> tuple[str, ...]:
    """The frames of a pool whose every slot has something to fill it with."""
    frames, fillers = FRAMES[split], _fillers(emotion, level, split)
    candidates = frames.ap + frames.manner + frames.noun[level] + frames.situation
    return tuple(t for t in candidates if all(fillers[slot] for slot in re.findall(r"\{(\w+)\}", t)))


def _check(emotion: str, intensity: int, split: str) -> tuple[str, int, str]:
    if split not in SPLITS:
        raise EmoAnimError(f"description split must be one of {SPLITS}, got '{split}'")
    return canonical_emotion(emotion), check_intensity(intensity), split


def _index(rng, n: int) -> int:
    """A uniform draw from range(n) with a numpy Generator or a random.Random."""
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(n))
    return rng.randrange(n)


def describe(emotion: str, intensity: int, rng: np.random.Generator | random.Random | int,
             split: str = "train") -> str:
    """One description: a frame drawn uniformly, then each slot filled uniformly."""
    emotion, intensity, split = _check(emotion, intensity, split)
    rng = random.Random(rng) if isinstance(rng, int) else rng
    templates, fillers = _templates(emotion, intensity, split), _fillers(emotion, intensity, split)
    template = templates[_index(rng, len(templates))]
    return re.sub(r"\{(\w+)\}", lambda m: (options := fillers[m.group(1)])[_index(rng, len(options))], template)


def descriptions(emotion: str, intensity: int, rng: np.random.Generator | random.Random | int, n: int,
                 split: str = "train") -> list[str]:
    """`n` distinct descriptions (order random). Raises if the pool has fewer than `n`."""
    emotion, intensity, split = _check(emotion, intensity, split)
    rng = random.Random(rng) if isinstance(rng, int) else rng
    pool = description_pool(emotion, intensity, split)
    if n > len(pool):
        raise EmoAnimError(f"only {len(pool)} distinct {split} descriptions for {emotion}/{intensity}, asked for {n}")
    chosen: dict[str, None] = {}
    for _ in range(20 * n):  # frame-first sampling keeps frames balanced; a long tail falls back below
        if len(chosen) == n:
            break
        chosen.setdefault(describe(emotion, intensity, rng, split))
    rest = [d for d in pool if d not in chosen]
    while len(chosen) < n:
        chosen.setdefault(rest.pop(_index(rng, len(rest))))
    return list(chosen)


@cache
def description_pool(emotion: str, intensity: int, split: str = "train") -> tuple[str, ...]:
    """Every description the pool can produce for (emotion, intensity), sorted."""
    emotion, intensity, split = _check(emotion, intensity, split)
    fillers, out = _fillers(emotion, intensity, split), set()
    for template in _templates(emotion, intensity, split):
        pieces = re.split(r"\{(\w+)\}", template)  # literal, slot, literal, slot, ..., literal
        for values in itertools.product(*(fillers[slot] for slot in pieces[1::2])):
            pieces[1::2] = values
            out.add("".join(pieces))
    return tuple(sorted(out))


def level_words(level: int, split: str) -> frozenset[str]:
    """The intensity adverbs and the emotion words (all emotions) that carry `level` on their own."""
    words = set(INTENSITY_ADVERBS[split][level])
    for emotion in EMOTIONS:
        entry = WORDS[emotion][split]
        words.update(entry.adjectives[level] + entry.manners[level])
    return frozenset(words)


# ------------------------------------------------------------------------- negation, no emotion
# What people also type: a denied emotion ("not happy at all") and words with no emotion in them
# ("the table", "asdfgh"). A denied emotion reads as its absence, neutral, except denied happiness,
# which English reads as mild unhappiness. Each pool frames negations its own way, as above.
NEGATION_FRAMES: dict[str, tuple[str, ...]] = {
    "train": ("not {ap}", "not {ap} at all", "not feeling {ap}", "never {ap}"),
    "heldout": ("far from {ap}", "not the least bit {ap}", "in no way {ap}"),
    "dev": ("anything but {ap}", "not remotely {ap}"),
}
NEGATED_READS_AS: dict[str, tuple[str, int]] = {e: ("sad", 1) if e == "happy" else ("neutral", 1)
                                                for e in GRADABLE}


@cache
def negation_pool(emotion: str, intensity: int, split: str = "train") -> tuple[str, ...]:
    """Denials of other emotions that read as (emotion, intensity): 'not angry at all' for neutral 1."""
    emotion, intensity, split = _check(emotion, intensity, split)
    out = set()
    for denied, reads_as in NEGATED_READS_AS.items():
        if reads_as == (emotion, intensity):
            words = [w for w in WORDS[denied][split].adjectives[2] if " " not in w]
            out.update(frame.format(ap=w) for frame in NEGATION_FRAMES[split] for w in words)
    return tuple(sorted(out))


# ---------------------------------------------------------------------- idioms and exclamations
# Figures of speech and exclamations carry emotion in words that do not ("on cloud nine", "hit the
# roof", "no way!"); without them the text side learns that concrete words read as neutral. Each pool
# has its own, none is a free-text probe, and each is used bare: one phrasing per idiom. Items are
# separated by ';' because idioms may hold commas.
IDIOMS: dict[str, dict[str, dict[int, tuple[str, ...]]]] = {
    "neutral": {
        "train": _levels("same as always; nothing special; business as usual; just another day"
                         " | meh; no strong feelings either way | going through the motions; like a robot; dead inside", ";"),
        "dev": _levels("no big deal; all good; nothing to report | so-so; can't be bothered | numb to it all; zoned out", ";"),
        "heldout": _levels("cool as a cucumber; steady as she goes | neither here nor there; shrugging it off"
                           " | bored stiff; staring into space", ";"),
    },
    "happy": {
        "train": _levels("in a good mood; all smiles | on cloud nine; walking on air; having a blast"
                         " | jumping for joy; in seventh heaven; yay!", ";"),
        "dev": _levels("glad to hear it; a spring in my step | made my day; in high spirits"
                       " | on top of the world; best day ever!", ";"),
        "heldout": _levels("a smile on my face; looking on the bright side | pleased as punch; walking on sunshine"
                           " | having the time of my life; full of the joys of spring", ";"),
    },
    "sad": {
        "train": _levels("a little down; not my day | down in the mouth; under a cloud; with a heavy heart"
                         " | crying my eyes out; my world fell apart; falling to pieces", ";"),
        "dev": _levels("a bit low; missing home | choked up; a lump in my throat | sobbing uncontrollably; my heart is broken", ";"),
        "heldout": _levels("out of sorts; a bit glum | feeling down; tearing up | weeping; grief-stricken", ";"),
    },
    "angry": {
        "train": _levels("a bit ticked off; rubbed the wrong way | seeing red; up in arms"
                         " | blew a fuse; hit the roof; foaming at the mouth", ";"),
        "dev": _levels("getting on my nerves; miffed | hot under the collar; had it up to here"
                       " | blowing my top; fuming with rage", ";"),
        "heldout": _levels("cheesed off; bugged | steaming; losing my temper"
                           " | flying off the handle; went ballistic; flipped my lid", ";"),
    },
    "fearful": {
        "train": _levels("a bit jumpy; butterflies in my stomach | shaking like a leaf; heart in my mouth"
                         " | scared out of my wits; my blood ran cold", ";"),
        "dev": _levels("uneasy about it; a knot in my stomach | biting my nails; jittery | paralysed with dread; scared stiff", ";"),
        "heldout": _levels("on tenterhooks; have a bad feeling about this | sweating bullets; afraid of what comes next"
                           " | hair standing on end; in a blind panic", ";"),
    },
    "disgusted": {
        "train": _levels("not a fan of that smell; ew | makes my skin crawl; turns my stomach | want to puke; sick to my stomach", ";"),
        "dev": _levels("a bit icky; yuck | grossed out; can't stand the smell | makes me gag; nauseating", ";"),
        "heldout": _levels("eww, sticky | puts me right off my food; stomach-churning | vile beyond words; retching", ";"),
    },
    "surprised": {
        "train": _levels("huh, interesting; oh, really? | no way!; who would have thought"
                         " | knocked my socks off; my jaw hit the floor", ";"),
        "dev": _levels("oh, I see; well, well | caught off guard; didn't see that coming | blown away; mind blown", ";"),
        "heldout": _levels("that's unexpected; raised eyebrows | whoa; out of the blue"
                           " | floored; you could have knocked me over with a feather", ";"),
    },
    "contemptuous": {
        "train": _levels("yeah, right; whatever you say | beneath me; turning up my nose | not worth my time; pathetic, really", ";"),
        "dev": _levels("how quaint; oh please | holier-than-thou; so beneath us | spitting on their efforts; a waste of air", ";"),
        "heldout": _levels("a smug little grin; condescending | scoffing; patronising tone | treating them like dirt; sheer scorn", ";"),
    },
}  # fmt: skip


def idiom_pool(emotion: str, intensity: int, split: str = "train") -> tuple[str, ...]:
    """The pool's idioms and exclamations that say (emotion, intensity)."""
    emotion, intensity, split = _check(emotion, intensity, split)
    return IDIOMS[emotion][split][intensity]


def phrasing_pool(emotion: str, intensity: int, split: str = "train") -> tuple[str, ...]:
    """Everything a text encoder learns (train) or is scored on (heldout, dev) for (emotion, intensity):
    the descriptions of ``description_pool`` plus the negations that read as it (idioms: ``idiom_pool``)."""
    return description_pool(emotion, intensity, split) + negation_pool(emotion, intensity, split)


def emotionless_texts(split: str, n: int, seed: int = 0) -> list[str]:
    """``n`` texts that carry no emotion, for the text side to read as neutral: sentences of the corpus
    grammar (whose words are neutral on purpose), lists of things, and keyboard mashing. 'train' and
    'heldout' draw different sentences (the corpus's own train / test sentence split) and strings."""
    from emoanim.data.sentences import CATEGORIES, SentenceGenerator, split_of_sentence

    if split not in SPLITS:
        raise EmoAnimError(f"text split must be one of {SPLITS}, got '{split}'")
    rng = random.Random(f"emotionless-{split}-{seed}")
    sentence_split = {"train": "train", "heldout": "test", "dev": "val"}[split]
    generator, out, index = SentenceGenerator(seed), [], 0
    categories = sorted(CATEGORIES)
    letters = "qwertyuiopasdfghjklzxcvbnm"
    while len(out) < n:
        kind = len(out) % 3
        if kind == 0:  # a sentence of the corpus grammar, from this split's share of the sentences
            sentence = generator.sentence(index)
            while split_of_sentence(sentence.id, seed) != sentence_split:
                index += 1
                sentence = generator.sentence(index)
            out.append(sentence.text)
            index += 1
        elif kind == 1:  # a thing or two: "the brown table"
            category = CATEGORIES[rng.choice(categories)]
            words = rng.sample(category.nouns, rng.randint(1, 2))
            if rng.random() < 0.5:
                words[0] = f"{rng.choice(category.adjectives)} {words[0]}"
            out.append(rng.choice(("the ", "a ", "")) + " and ".join(words))
        else:  # keyboard mashing, one or two "words"
            out.append(" ".join("".join(rng.choice(letters) for _ in range(rng.randint(3, 9)))
                                for _ in range(rng.randint(1, 2))))
    return out
