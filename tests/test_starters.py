import pytest

from qa.core.types import Article
from qa.text.starters import number_question, starter_questions


@pytest.mark.parametrize(
    ("sentence", "question"),
    [
        (
            "Tỷ lệ hộ nghèo của huyện Mường Nhé giảm xuống còn 12,5% vào cuối năm.",
            "Tỷ lệ hộ nghèo của huyện Mường Nhé giảm xuống còn bao nhiêu phần trăm?",
        ),
        (
            "Hội nghị trao đổi kinh nghiệm giữa 8 tỉnh, thành phố phía Bắc.",
            "Hội nghị trao đổi kinh nghiệm giữa bao nhiêu tỉnh?",
        ),
        (
            "Về phía tỉnh có lãnh đạo huyện cùng với 132 đại biểu dự hội nghị.",
            "Về phía tỉnh có lãnh đạo huyện cùng với bao nhiêu đại biểu?",
        ),
        # a date, a year, a name and a time span are not counts; the next number may be
        ("Ngày 27 tháng 6 năm 2022, Ban Dân tộc tổ chức hội nghị.", None),
        ("Thực hiện Quyết định 1719 của Thủ tướng Chính phủ về chương trình.", None),
        ("Theo dự thảo báo cáo 6 tháng đầu năm, tình hình ổn định.", None),
        ("Lãnh đạo 02 bên thống nhất các mặt đạt được.", None),
        (
            "Năm 2022 tỉnh đã xây dựng được 45 cây cầu dân sinh.",
            "Năm 2022 tỉnh đã xây dựng được bao nhiêu cây cầu?",
        ),
        # too little before the number to make a question of
        ("Có 5 xã.", None),
        ("Không có con số nào trong câu này cả.", None),
    ],
)
def test_a_sentence_is_asked_about_what_it_counts(sentence: str, question: str | None) -> None:
    assert number_question(sentence) == question


def test_one_question_per_article_counted_first_then_titles() -> None:
    articles = [
        Article("a", "Lễ hội đua ghe ngo", "Lễ hội diễn ra sôi nổi. Mọi người đều vui."),
        Article("b", "Làng nghề", "Làng nghề gốm Bát Tràng có 1.200 hộ làm gốm. Có 3 lò lớn."),
        Article("c", "Bắt đầu bằng mấy chữ…", "Một bài không có tên và không có con số."),
    ]
    assert starter_questions(articles) == [
        "Làng nghề gốm Bát Tràng có bao nhiêu hộ?",
        "Lễ hội đua ghe ngo diễn ra khi nào?",
    ]
    assert starter_questions(articles, limit=1) == ["Làng nghề gốm Bát Tràng có bao nhiêu hộ?"]
    assert starter_questions([]) == []
