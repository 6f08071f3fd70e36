from omnimig.cli import console

console()
