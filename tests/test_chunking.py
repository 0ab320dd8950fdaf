import pytest

from qa.core.types import Article
from qa.ingest.chunking import SentenceChunker
from qa.ingest.loading import load_articles
from qa.text.sentences import sentence_spans
from tests.conftest import CORPUS


@pytest.mark.parametrize(("size", "overlap"), [(700, 150), (300, 0), (120, 60), (2000, 400)])
def test_chunks_are_exact_spans_of_every_bundled_article(size: int, overlap: int) -> None:
    chunker = SentenceChunker(size, overlap)
    for article in load_articles([CORPUS]):
        spans = chunker.chunk(article)
        assert spans
        covered = 0
        for start, end in spans:
            text = article.text[start:end]
            assert text == text.strip() and text
            covered = max(covered, end)
        assert covered == len(article.text)
        # every sentence lies inside some chunk
        for s_start, s_end in sentence_spans(article.text):
            assert any(a <= s_start and s_end <= b for a, b in spans) or s_end - s_start > size


def test_sentences_end_at_punctuation_not_at_abbreviations() -> None:
    text = "Ông A. Nguyễn đến TP. Hồ Chí Minh. Hội nghị bắt đầu! Kết thúc?"
    sentences = [text[a:b] for a, b in sentence_spans(text)]
    assert sentences == ["Ông A. Nguyễn đến TP. Hồ Chí Minh.", "Hội nghị bắt đầu!", "Kết thúc?"]


def test_long_sentence_is_cut_at_word_boundaries() -> None:
    text = " ".join(["từ"] * 400)
    article = Article(id="a", title="t", text=text)
    spans = SentenceChunker(100, 20).chunk(article)
    assert all(end - start <= 100 for start, end in spans)
    assert all(text[s:e] == text[s:e].strip() for s, e in spans)


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (100, 100), (100, -1)])
def test_bad_sizes_are_rejected(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="must"):
        SentenceChunker(size, overlap)
