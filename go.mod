module github.com/joule-llm/joule

go 1.26
