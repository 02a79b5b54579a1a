"""Why this answer: leave-one-word-out attributions from the served model.

The question and every copy of it with one word removed go to the model server
in ONE batched predict request. A word's effect is P(Post) of the whole
question minus P(Post) without that word: positive pushed the answer toward
Post, negative toward Pre. It needs nothing but the served signature, so it
explains exactly the model that answered, whatever its architecture.
"""

from __future__ import annotations

import dataclasses
import html
import re
from typing import Protocol

import regex

import features
import signatures

# The words the Transform graph sees (preprocessing.clean_text splits on everything else).
WORD = regex.compile(f"[{features.WORD_CHARACTERS}]+")
LEGEND = ("Why: each word is coloured by how much removing it changes P(Post); "
          "red pushed toward Post (after buying), blue toward Pre (before buying).")


class PredictClient(Protocol):
    def predict(self, questions: list[str]) -> list: ...


@dataclasses.dataclass(frozen=True)
class WordEffect:
    word: str
    start: int
    end: int
    effect: float | None  # P(Post) with the word minus without it; None when removing it leaves nothing to ask


@dataclasses.dataclass(frozen=True)
class Explanation:
    question: str
    label: str
    probability_post: float
    model_version: int | None
    words: list[WordEffect]

    @property
    def confidence(self) -> float:
        """Probability of the predicted label."""
        return self.probability_post if self.label == features.POST else 1.0 - self.probability_post

    def strongest(self, count: int = 3) -> list[WordEffect]:
        scored = [w for w in self.words if w.effect is not None]
        return sorted(scored, key=lambda w: abs(w.effect), reverse=True)[:count]


def without_word(question: str, start: int, end: int) -> str:
    """The question with one word cut out and the spaces around it collapsed."""
    return re.sub(r"\s+", " ", question[:start] + " " + question[end:]).strip()


def explanation_request(question: str) -> list[str]:
    """The questions one explanation asks: the question, then each non-empty variant with one word left out.

    The monitoring job reads a logged request of exactly this shape as one question (monitoring/records.py).
    """
    question = question.strip()
    variants = (without_word(question, m.start(), m.end()) for m in WORD.finditer(question))
    return [question, *(v for v in variants if v)]  # a one-word question has no variant to ask about


def explain(client: PredictClient, question: str) -> Explanation:
    """One batched request: the question first, then each variant with one word left out."""
    question = question.strip()
    spans = [(m.group(), m.start(), m.end()) for m in WORD.finditer(question)]
    variants = [without_word(question, start, end) for _, start, end in spans]
    predictions = client.predict(explanation_request(question))
    full, rest = predictions[0], iter(predictions[1:])
    words = [WordEffect(word, start, end, full.probability_post - next(rest).probability_post if variant else None)
             for (word, start, end), variant in zip(spans, variants, strict=True)]
    return Explanation(question, full.label, full.probability_post, full.model_version, words)


def _colour(effect: float | None, scale: float) -> str:
    """Red toward Post, blue toward Pre, stronger for bigger effects; no colour for no effect."""
    if effect is None or scale <= 0:
        return "transparent"
    alpha = min(1.0, abs(effect) / scale) * 0.6
    rgb = "214,39,40" if effect > 0 else "31,119,180"
    return f"rgba({rgb},{alpha:.2f})"


def highlighted_html(explanation: Explanation) -> str:
    """The question with each word's background coloured by its effect (hover shows the number)."""
    scale = max((abs(w.effect) for w in explanation.words if w.effect is not None), default=0.0)
    text, cursor, parts = explanation.question, 0, []
    for word in explanation.words:
        parts.append(html.escape(text[cursor:word.start]))
        title = "no variant" if word.effect is None else f"{word.effect:+.3f} P(Post)"
        parts.append(f'<span title="{title}" style="background:{_colour(word.effect, scale)};'
                     f'padding:1px 3px;border-radius:3px">{html.escape(word.word)}</span>')
        cursor = word.end
    parts.append(html.escape(text[cursor:]))
    return "".join(parts)


def as_dict(explanation: Explanation) -> dict:
    """For ``./run.sh predict --explain``: the answer and each word's effect, strongest first."""
    ordered = sorted(explanation.words, key=lambda w: -abs(w.effect) if w.effect is not None else 0.0)
    return {
        "question": explanation.question, signatures.LABEL_OUTPUT: explanation.label,
        signatures.PROBABILITY_OUTPUT: round(explanation.probability_post, 4), "model_version": explanation.model_version,
        "word_effects": [{"word": w.word, "effect_on_p_post": None if w.effect is None else round(w.effect, 4),
                          "toward": None if w.effect is None else (features.POST if w.effect > 0 else features.PRE)}
                         for w in ordered],
    }
