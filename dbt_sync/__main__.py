from dbt_sync.cli import main

main(prog_name="dbt-sync")
