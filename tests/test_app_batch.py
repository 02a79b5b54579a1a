"""The Batch tab's logic (app/batch.py): every uploaded row back, with a status and a counts message."""

from __future__ import annotations

import pandas as pd
import pytest

from app import batch
from serving.client import Prediction

SIX_ROWS = ["does it fit a queen bed?", "", "   ", "x" * 5000, "mine arrived scratched, refund?", "is it loud?"]


def six_row_csv() -> bytes:
    return pd.DataFrame({"question": SIX_ROWS}).to_csv(index=False).encode()


def fake_predict(sent: list[list[str]]):
    def predict(questions: list[str]) -> list[Prediction]:
        sent.append(questions)
        return [Prediction(q, "Post" if "refund" in q else "Pre", 0.9 if "refund" in q else 0.2, 3) for q in questions]
    return predict


def test_every_row_of_the_upload_comes_back_with_a_status_and_the_counts_are_named():
    frame = batch.read_upload(six_row_csv())
    assert frame["question"].tolist() == SIX_ROWS  # the empty row is a blank line in a one-column CSV
    sent: list[list[str]] = []
    result = batch.score(frame, fake_predict(sent))
    assert sent == [[SIX_ROWS[0], SIX_ROWS[4], SIX_ROWS[5]]]
    assert result["question"].tolist() == SIX_ROWS
    assert result["status"].tolist() == ["scored", "empty", "empty", "longer than 2,000 characters", "scored", "scored"]
    assert result["predicted_label"].tolist() == ["Pre", "", "", "", "Post", "Pre"]
    assert result["probability_post"].isna().tolist() == [False, True, True, True, False, False]
    assert batch.counts_message(result) == "3 of 6 rows not scored: 2 empty, 1 longer than 2,000 characters"


def test_other_columns_stay_and_a_clean_upload_says_all_were_scored():
    data = pd.DataFrame({"sku": ["a", "b"], "question": ["is it loud?", "can I return it?"]}).to_csv(index=False)
    result = batch.score(batch.read_upload(data.encode()), fake_predict([]))
    assert result.columns.tolist() == ["sku", "question", "predicted_label", "probability_post", "status"]
    assert result["sku"].tolist() == ["a", "b"]
    assert batch.counts_message(result) == "All 2 rows scored."


def test_long_uploads_go_in_chunks_and_keep_their_order():
    questions = [f"question number {i}" for i in range(batch.CHUNK * 2 + 5)]
    sent: list[list[str]] = []
    result = batch.score(pd.DataFrame({"question": questions}), fake_predict(sent))
    assert [len(s) for s in sent] == [batch.CHUNK, batch.CHUNK, 5]
    assert result["question"].tolist() == questions


@pytest.mark.parametrize("data, message", [
    (b"text,x\nhello,1\n", "The file has no 'question' column (columns: text, x)."),
    (b"", "Could not read that file as CSV"),
])
def test_an_upload_that_is_not_a_question_csv_is_named(data, message):
    with pytest.raises(batch.UploadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        batch.read_upload(data)
