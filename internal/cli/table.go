package cli

import "github.com/gatehouse/gatehouse/internal/config"

func configTable() string { return config.MarkdownTable() }
