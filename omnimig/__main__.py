from omnimig.cli import app

app()
