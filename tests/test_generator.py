"""The synthetic data generator: reproducible, any size, real label balance, no category nonsense."""

import gzip
import random
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from scripts import generate_synthetic_data as gen
from tests.helpers import ROOT

SCRIPT = ROOT / "scripts" / "generate_synthetic_data.py"

DEFAULTS = {"seed": 20240601, "ambiguous_share": 0.15, "flip_share": 0.04}


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return pd.DataFrame(gen.generate_rows(20000, **DEFAULTS))


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=tmp_path)


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path):
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        assert _run(tmp_path, "--rows", "1500", "--seed", seed, "--out", f"{name}.csv.gz").returncode == 0
    assert (tmp_path / "a.csv.gz").read_bytes() == (tmp_path / "b.csv.gz").read_bytes()
    assert (tmp_path / "a.csv.gz").read_bytes() != (tmp_path / "c.csv.gz").read_bytes()


def test_rows_flag_writes_exactly_that_many_rows_in_the_public_schema(tmp_path):
    assert _run(tmp_path, "--rows", "1234", "--out", "x.csv.gz").returncode == 0
    frame = pd.read_csv(tmp_path / "x.csv.gz")
    assert list(frame.columns) == gen.COLUMNS
    assert len(frame) == 1234
    assert set(frame["label"]) == {"Pre", "Post"}
    assert ((frame["hours_diff"] > 0) == (frame["label"] == "Post")).all()


def test_rows_below_one_is_refused_with_a_message(tmp_path):
    result = _run(tmp_path, "--rows", "0", "--out", "x.csv.gz")
    assert result.returncode != 0 and "--rows must be at least 1" in result.stderr
    assert not (tmp_path / "x.csv.gz").exists()


def test_bundled_file_is_what_the_generator_writes_by_default(tmp_path):
    assert _run(tmp_path, "--out", "default.csv.gz").returncode == 0
    assert (tmp_path / "default.csv.gz").read_bytes() == (ROOT / "data" / "PrePostQuestions.csv.gz").read_bytes()


def test_label_balance_after_deduplication_is_the_real_datasets(rows):
    kept = rows.drop_duplicates(["question", "label"])
    assert abs((kept["label"] == "Pre").mean() - gen.REAL_PRE_SHARE) < 0.015
    custom = pd.DataFrame(gen.generate_rows(5000, **DEFAULTS, pre_share=0.4))
    assert abs((custom["label"] == "Pre").mean() - 0.4) < 0.03


def test_most_rows_survive_deduplication(rows):
    assert rows.duplicated(["question", "label"]).mean() < 0.03


class CategoryChecker:
    """Finds product words in a question that belong to other categories than the question's own."""

    def __init__(self) -> None:
        self.owners: dict[str, set[str]] = {}  # product word (name, part, accessory, consumable) -> categories
        for name, category in gen.CATEGORIES.items():
            for word in category.nouns + category.parts + category.accessories + category.consumables:
                self.owners.setdefault(word, set()).add(name)
        self.words = sorted(self.owners, key=len, reverse=True)  # longest first: 'base plate' before 'base'
        self.patterns = {w: re.compile(rf"\b{re.escape(w)}\b") for w in self.owners}
        self.own_phrases = {name: [self._phrase_pattern(p) for p in self._phrases(c)]
                            for name, c in gen.CATEGORIES.items()}

    @staticmethod
    def _phrases(category: gen.Category) -> list[str]:
        """A category's own phrases, which may name other products on purpose ('fits a bike bottle cage')."""
        phrases = (category.fits + category.rivals + category.uses + category.specs + category.defects
                   + category.owner_howtos + category.setups + category.materials)
        return sorted(phrases, key=len, reverse=True)

    @staticmethod
    def _phrase_pattern(phrase: str) -> re.Pattern:
        """A phrase in which 'it' may have become 'this', 'the blender' or 'this blender' (see the generator)."""
        words = [r"(?:it|this|(?:the|this) [\w ]+?\b)" if w == "it" else re.escape(w) for w in phrase.split()]
        return re.compile(r"\s+".join(words))

    def foreign_words(self, question: str, category_name: str) -> list[str]:
        text = question.lower()
        for pattern in self.own_phrases[category_name]:
            text = pattern.sub(" ", text)
        for word in self.words:
            if category_name in self.owners[word]:
                text = self.patterns[word].sub(" ", text)
        return [w for w in self.words if self.patterns[w].search(text)]


def test_product_words_in_a_question_belong_to_its_items_category():
    """Checked before typos and casing are added (a typo can hide part of an own phrase)."""
    checker = CategoryChecker()
    rng = random.Random(3)
    names = sorted(gen.CATEGORIES)
    wrong = []
    for _ in range(20000):
        name = rng.choice(names)
        item = rng.choice(gen.CATEGORIES[name].items)
        question = gen.compose_question(rng.choice(gen.LABELS), gen.CATEGORIES[name], item, rng,
                                        DEFAULTS["ambiguous_share"])
        foreign = checker.foreign_words(question, gen.category_of_item(item))
        if foreign:
            wrong.append((question, item, foreign))
    assert not wrong, wrong[:5]


def test_the_category_check_catches_nonsense_and_passes_sense():
    checker = CategoryChecker()
    assert checker.foreign_words("will this dog food fit a queen mattress", "dog food") == ["mattress"]
    assert checker.foreign_words("does the charging case fit the jar", "blender") == ["charging case", "case"]
    assert checker.foreign_words("does the jar crack with ice", "blender") == []


def test_every_row_is_a_known_item_and_every_category_has_both_labels(rows):
    rows = rows.assign(category=rows["item_name"].map(gen.category_of_item))
    counts = rows.groupby(["category", "label"]).size().unstack()
    assert set(counts.index) == set(gen.CATEGORIES)
    assert (counts.min(axis=1) > 100).all()


def test_registers_are_mostly_lower_case_and_boilerplate_is_rare(rows):
    questions = rows["question"]
    assert (questions == questions.str.lower()).mean() > 0.5
    assert questions.str.endswith("?").mean() < 0.6
    openers = questions.str.lower().str.match(r"^(hi|hello|hey|quick question|question:)\b")
    assert openers.mean() < 0.08


def test_no_model_can_be_perfect_but_the_labels_are_learnable(rows):
    train, test = rows.iloc[:15000], rows.iloc[15000:]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    model = LogisticRegression(max_iter=2000).fit(vectorizer.fit_transform(train["question"]), train["label"])
    accuracy = (model.predict(vectorizer.transform(test["question"])) == test["label"]).mean()
    assert 0.75 < accuracy < 0.97


def test_generated_file_is_gzip_with_a_fixed_header(tmp_path):
    gen.write_csv_gz(gen.generate_rows(3, **DEFAULTS), tmp_path / "x.csv.gz")
    raw = (tmp_path / "x.csv.gz").read_bytes()
    assert raw[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0: the same bytes on every run
    assert gzip.decompress(raw).decode().splitlines()[0] == ",".join(gen.COLUMNS)


def test_the_bundled_data_has_39_product_categories():
    """README: "39 product categories". The public schema has no category column: each item name belongs to one
    of the generator's categories, so the bundled file's item names are counted through that mapping."""
    items = pd.read_csv(ROOT / "data" / "PrePostQuestions.csv.gz", usecols=["item_name"])["item_name"].unique()
    assert len({gen.category_of_item(item) for item in items}) == 39
    assert len(gen.CATEGORIES) == 39
