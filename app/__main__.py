from app.cli import main

# Guarded: the PDF render pool spawns workers that re-import the main module.
if __name__ == "__main__":
    main()
