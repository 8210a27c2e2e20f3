"""The original tool's map of prompt functions to the variables their templates may use."""

from __future__ import annotations

DEFAULT_FUNCTION_VARIABLES: dict[str, list[str]] = {
    "create_comment_to_post": ["twitter_post", "relevant_knowledge"],
    "create_comment_to_comment": ["comment_text", "relevant_knowledge"],
    "create_tweet": ["project_tweets", "my_tweets", "relevant_knowledge"],
    "create_quoted_tweet": ["tweet_for_quote", "my_tweets", "relevant_knowledge"],
    "create_news_tweet": ["news_tweets", "my_tweets", "relevant_knowledge"],
    "check_answer_is_needed": ["twitter_comment"],
    "check_tweet_for_marketing": ["tweet_text", "relevant_knowledge"],
    "create_marketing_comment": ["tweet_text", "relevant_knowledge", "question_prompt"],
}
