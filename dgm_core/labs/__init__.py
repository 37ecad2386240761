"""What each lab shows, one module per lab (`dgm_core.labs.<lab>`): its reports, tables, sentences, widget
ranges and the lesson checks it registers (`CHECKS`). Both front ends call these. The labs' records (name,
title, page, Space tab, lesson, model types) are `dgm_core.lab_records.LABS`."""
