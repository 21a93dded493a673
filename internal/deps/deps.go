package main
import (
 _ "github.com/urfave/cli/v2"
 _ "github.com/jackc/pgx/v5"
 _ "github.com/jackc/pgx/v5/pgxpool"
 _ "github.com/xuri/excelize/v2"
 _ "github.com/schollz/progressbar/v3"
 _ "github.com/samber/lo"
 _ "golang.org/x/sync/errgroup"
 _ "golang.org/x/text/encoding/charmap"
 _ "golang.org/x/term"
)
func main(){}
